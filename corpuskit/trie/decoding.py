"""Constrained decoding with a trie: adapters for Hugging Face ``generate`` and a look-ahead reweighting.

    from corpuskit.trie import Trie
    from corpuskit.trie.decoding import prefix_allowed_tokens_fn, TrieLogitsProcessor

    trie = Trie.open("kb.trie")                      # built with --eos 1
    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=0, pad_id=0)      # encoder-decoder (T5)
    model.generate(input_ids, prefix_allowed_tokens_fn=fn, num_beams=4)

    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=None,             # decoder-only, left-padded
                                  prompt_length=input_ids.shape[1], pad_id=pad)
    model.generate(input_ids, attention_mask=mask, prefix_allowed_tokens_fn=fn)

    processor = TrieLogitsProcessor(trie, decoder_start_id=0, pad_id=0)   # one vectorized mask per step
    model.generate(input_ids, logits_processor=LogitsProcessorList([processor]))

Which tokens a row has generated:

* decoder-only models (``prompt_length > 0``): ``row[prompt_length:]``, where ``prompt_length`` is the
  width of the (padded) prompt batch given to ``generate``, so left padding needs nothing else;
  ``decoder_start_id`` is then ignored;
* encoder-decoder models (``prompt_length == 0`` and ``decoder_start_id`` given): ``row[1:]``, after the
  decoder start token (a row that does not begin with it is an error: a decoder-only model given
  without ``prompt_length``);
* ``prompt_length == 0`` and ``decoder_start_id=None``: the whole row.

A forced ``prefix`` (a language tag, a task token) must come first: while it is being generated only its
next token is allowed, and when it is already there (given as decoder input) it is skipped. Then the trie
applies: the tokens allowed are ``trie.allowed(state)``, plus ``eos_id`` when the tokens so far are a
complete sequence (EOS alone at a leaf; EOS and the children when a sequence is also a prefix of
others). After EOS only ``pad_id`` (``eos_id`` when there is no pad) is allowed, which is what
``generate`` appends to finished rows. ``eos_id`` defaults to ``trie.eos_id``; the trie's sequences do
not hold EOS themselves.

When nothing is allowed (a row left the trie, e.g. through a forced token; a complete sequence with no
continuation when EOS is unknown), ``on_empty`` decides: ``"eos"`` allows ``[eos_id]`` alone (the row
ends; it needs an ``eos_id``), ``"raise"`` raises a ``CorpusError`` naming the generated prefix.

The state of each hypothesis is kept in a bounded LRU cache keyed by its generated tokens: beams share
prefixes and each step extends last step's rows by one token, so a call hashes its row and takes one
``trie.step`` from the cached parent; a row whose parent was evicted is walked from the start.

Look-ahead (``lookahead_scores``, ``lookahead_reweight``): for each allowed next token, how much closer
the best of the sequences it leads to comes to a query, in longest-common-subsequence length; the
next-token probabilities are then sharpened towards those tokens (``p ** (1 / (delta + 1))``), the
trick KgCLUE baselines use to steer generation towards entities mentioned in the question.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Sequence

import numpy as np

from corpuskit.errors import CorpusError
from corpuskit.trie.trie import DEAD, ROOT, pack_bitmask

__all__ = ["TrieLogitsProcessor", "TriePrefixAllowedTokens", "lcs_length", "lookahead_reweight",
           "lookahead_scores", "pack_bitmask", "prefix_allowed_tokens_fn", "state_prefix"]

_ENDED = -2
"""Status of a row that has generated EOS: only padding may follow."""
_PREFIX = -3
"""Status ``_PREFIX - i``: ``i`` tokens of the forced prefix generated so far."""
DEFAULT_CACHE_SIZE = 1 << 14


def _base(trie: Any) -> Any:
    """The plain ``Trie`` under a ``RestrictedTrie`` (which lacks the metadata and strings)."""
    return getattr(trie, "trie", trie)


def _ids(row: Any) -> list[int]:
    """A row of token ids (torch tensor, numpy array or any sequence of ints) as a list of Python ints."""
    if hasattr(row, "tolist"):
        return row.tolist()
    return [int(t) for t in row]


class _Tracker:
    """Maps a row's generated tokens to a status, through the cache, and says what may follow it.

    A status is a trie state (>= 0), ``DEAD`` (left the trie), ``_ENDED`` (EOS generated) or
    ``_PREFIX - i`` (``i`` tokens of the forced prefix generated).
    """

    def __init__(self, trie: Any, decoder_start_id: int | None, eos_id: int | None, prompt_length: int,
                 prefix: Sequence[int], pad_id: int | None, on_empty: str, cache_size: int) -> None:
        if on_empty not in ("eos", "raise"):
            raise CorpusError(f"on_empty must be 'eos' or 'raise', not {on_empty!r}")
        if eos_id is None:
            eos_id = getattr(_base(trie), "eos_id", None)
        if on_empty == "eos" and eos_id is None:
            raise CorpusError("on_empty='eos' needs an EOS token: give eos_id=, build the trie with an EOS id "
                              "(--eos), or use on_empty='raise'")
        if prompt_length < 0:
            raise CorpusError(f"prompt_length must be >= 0, not {prompt_length}")
        if cache_size < 1:
            raise CorpusError(f"cache_size must be >= 1, not {cache_size}")
        prefix = tuple(int(t) for t in prefix)
        named = {"eos_id": eos_id, "pad_id": pad_id, "decoder_start_id": decoder_start_id}
        for name, value in [*named.items(), *(("prefix", t) for t in prefix)]:
            if value is not None and int(value) < 0:
                raise CorpusError(f"{name} must be a token id (>= 0), not {value}")
        self.trie = trie
        self.eos_id = None if eos_id is None else int(eos_id)
        self.pad_id = None if pad_id is None else int(pad_id)
        self.after_eos = self.pad_id if self.pad_id is not None else self.eos_id
        self.decoder_start_id = None if decoder_start_id is None else int(decoder_start_id)
        self.prompt_length = int(prompt_length)
        self.prefix = prefix
        self.on_empty = on_empty
        self.cache_size = int(cache_size)
        self.cache: OrderedDict[tuple[int, ...], int] = OrderedDict()
        self.start = _PREFIX if prefix else ROOT

    # which tokens a row generated ---------------------------------------------------------------

    def generated(self, row: Any) -> tuple[int, ...]:
        ids = _ids(row)
        if self.prompt_length:
            return tuple(ids[self.prompt_length:])
        if self.decoder_start_id is None or not ids:
            return tuple(ids)
        if ids[0] != self.decoder_start_id:
            raise CorpusError(f"the row does not begin with the decoder start token {self.decoder_start_id} "
                              f"but with {ids[0]}: for a decoder-only model give prompt_length= (the padded "
                              f"prompt width) and decoder_start_id=None")
        return tuple(ids[1:])

    # statuses -------------------------------------------------------------------------------------

    def status(self, key: tuple[int, ...]) -> int:
        """The status after ``key``: cached, else one step from the cached parent, else a walk."""
        cache = self.cache
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return found
        parent = cache.get(key[:-1]) if key else None
        if parent is not None:
            status = self.advance(parent, key[-1])
        else:
            status = self.start
            for token in key:
                status = self.advance(status, token)
        cache[key] = status
        if len(cache) > self.cache_size:
            cache.popitem(last=False)
        return status

    def advance(self, status: int, token: int) -> int:
        eos = self.eos_id
        if status >= 0:
            if token == eos and self.trie.is_complete(status):
                return _ENDED
            state = self.trie.step(status, token)
            if state is None:
                return _ENDED if token == eos else DEAD
            return state
        if status == _ENDED:
            return _ENDED
        if status <= _PREFIX:
            i = _PREFIX - status
            if token == self.prefix[i]:
                return ROOT if i + 1 == len(self.prefix) else status - 1
        return _ENDED if token == eos else DEAD

    def complete(self, status: int) -> bool:
        return status >= 0 and self.trie.is_complete(status)

    # what may follow ------------------------------------------------------------------------------

    def allowed(self, key: tuple[int, ...]) -> list[int]:
        status = self.status(key)
        if status == _ENDED:
            return [self.after_eos]  # type: ignore[list-item]
        if status <= _PREFIX:
            return [self.prefix[_PREFIX - status]]
        if status == DEAD:
            return self.empty(key, status)
        tokens = self.trie.allowed(status).tolist()
        eos = self.eos_id
        if eos is not None and self.trie.is_complete(status) and eos not in tokens:
            tokens.append(eos)
        return tokens or self.empty(key, status)

    def empty(self, key: tuple[int, ...], status: int) -> list[int]:
        """``[eos_id]`` under ``on_empty="eos"``; else an error naming the prefix and why it has no way on."""
        if self.on_empty == "eos":
            return [self.eos_id]  # type: ignore[list-item]
        if status == DEAD:
            why = "it leaves the trie" if not self.prefix or key[:len(self.prefix)] == self.prefix else \
                f"it does not begin with the forced prefix {list(self.prefix)}"
        else:
            why = "it is a complete sequence that nothing extends, and no eos_id is known"
        raise CorpusError(f"no token may follow the generated prefix {list(key)}{self.spelled(key)}: {why}")

    def spelled(self, key: tuple[int, ...]) -> str:
        """`` ("tok", "tok", ...)`` when the trie has token strings, else nothing."""
        base = _base(self.trie)
        vocab = getattr(base, "vocab", None)
        if not vocab:
            return ""
        strings = [vocab[t] if 0 <= t < len(vocab) else f"<{t}>" for t in key]
        return f" ({' '.join(repr(s) for s in strings)})"

    def mask(self, rows: Iterable[Any], vocab_size: int) -> np.ndarray:
        """bool ``[len(rows), vocab_size]``: True where a token may follow each row (one ``trie.mask``)."""
        keys = [self.generated(row) for row in rows]
        statuses = np.fromiter((self.status(key) for key in keys), dtype=np.int64, count=len(keys))
        out = self.trie.mask(np.where(statuses >= 0, statuses, DEAD), vocab_size)
        for name, token in (("eos_id", self.eos_id), ("pad_id", self.pad_id), *(("prefix", t) for t in self.prefix)):
            if token is not None and token >= vocab_size:
                raise CorpusError(f"{name} {token} is outside the model's {vocab_size} logits")
        for i in np.flatnonzero(statuses < 0).tolist():
            status = int(statuses[i])
            if status == _ENDED:
                out[i, self.after_eos] = True
            elif status <= _PREFIX:
                out[i, self.prefix[_PREFIX - status]] = True
        if self.eos_id is not None:
            for i in np.flatnonzero(statuses >= 0).tolist():
                if self.trie.is_complete(int(statuses[i])):
                    out[i, self.eos_id] = True
        for i in np.flatnonzero(~out.any(axis=1)).tolist():
            for token in self.empty(keys[i], int(statuses[i])):
                out[i, token] = True
        return out


class TriePrefixAllowedTokens:
    """The callable ``prefix_allowed_tokens_fn`` returns: ``fn(batch_id, input_ids) -> list[int]``.

    ``cache`` maps generated-token tuples to statuses (see the module's notes); ``len(fn.cache)`` is its
    size, bounded by ``cache_size``.
    """

    def __init__(self, trie: Any, **options: Any) -> None:
        self.tracker = _Tracker(trie, **options)

    @property
    def cache(self) -> OrderedDict:
        return self.tracker.cache

    def generated(self, input_ids: Any) -> tuple[int, ...]:
        """The tokens the row has generated (prompt or decoder start token removed, prefix kept)."""
        return self.tracker.generated(input_ids)

    def __call__(self, batch_id: int, input_ids: Any) -> list[int]:
        return self.tracker.allowed(self.tracker.generated(input_ids))


def prefix_allowed_tokens_fn(trie: Any, decoder_start_id: int | None = 0, eos_id: int | None = None,
                             prompt_length: int = 0, prefix: Sequence[int] = (), pad_id: int | None = None,
                             on_empty: str = "eos", cache_size: int = DEFAULT_CACHE_SIZE) -> TriePrefixAllowedTokens:
    """A ``prefix_allowed_tokens_fn(batch_id, input_ids) -> list[int]`` for ``transformers``' ``generate``.

    ``trie`` is a ``Trie`` or ``RestrictedTrie``; the options are described in this module's docstring.
    torch is not needed: ``input_ids`` may be a 1-D tensor, array or list.
    """
    return TriePrefixAllowedTokens(trie, decoder_start_id=decoder_start_id, eos_id=eos_id,
                                   prompt_length=prompt_length, prefix=prefix, pad_id=pad_id,
                                   on_empty=on_empty, cache_size=cache_size)


class TrieLogitsProcessor:
    """A logits processor (``LogitsProcessorList([TrieLogitsProcessor(trie, ...)])``): sets to -inf the score
    of every token the trie forbids after each row, with one vectorized ``trie.mask`` over all rows.

    Same options, row semantics, cache and EOS policy as ``prefix_allowed_tokens_fn``. torch is imported
    only when the processor is called. ``mask`` and ``bitmask`` give the same decision as numpy arrays for
    other engines (rows as lists of ids).
    """

    def __init__(self, trie: Any, decoder_start_id: int | None = 0, eos_id: int | None = None,
                 prompt_length: int = 0, prefix: Sequence[int] = (), pad_id: int | None = None,
                 on_empty: str = "eos", cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.tracker = _Tracker(trie, decoder_start_id=decoder_start_id, eos_id=eos_id,
                                prompt_length=prompt_length, prefix=prefix, pad_id=pad_id,
                                on_empty=on_empty, cache_size=cache_size)

    @property
    def cache(self) -> OrderedDict:
        return self.tracker.cache

    def mask(self, input_ids: Any, vocab_size: int | None = None) -> np.ndarray:
        """bool ``[rows, vocab_size]``, True where a token may follow (``vocab_size``: the trie's by default)."""
        rows = input_ids.tolist() if hasattr(input_ids, "tolist") else list(input_ids)
        width = _base(self.tracker.trie).vocab_size if vocab_size is None else int(vocab_size)
        return self.tracker.mask(rows, width)

    def bitmask(self, input_ids: Any, vocab_size: int | None = None) -> np.ndarray:
        """``mask`` packed as int32 words (``pack_bitmask``)."""
        return pack_bitmask(self.mask(input_ids, vocab_size))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        allowed = torch.from_numpy(self.mask(input_ids, scores.shape[-1])).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))


# look-ahead ----------------------------------------------------------------------------------------


class _LcsQuery:
    """LCS lengths against one fixed sequence, bit-parallel (Allison-Dix; Hyyro 2004).

    Bit ``i`` of ``masks[t]`` is set where ``query[i] == t``. ``V`` starts all ones over ``len(query)``
    bits; per token ``t`` of the other sequence, with ``U = V & masks[t]``: ``V = (V + U) | (V - U)``.
    The LCS length is the number of zero bits of ``V``. Each token costs a few big-int operations of
    ``len(query) / 64`` words.
    """

    def __init__(self, query: Iterable[Any]) -> None:
        masks: dict[Any, int] = {}
        n = 0
        for n, token in enumerate(query, 1):
            masks[token] = masks.get(token, 0) | (1 << (n - 1))
        self.masks = masks
        self.size = n
        self.full = (1 << n) - 1

    def length(self, other: Iterable[int]) -> int:
        full, get = self.full, self.masks.get
        v = full
        for token in other:
            u = v & get(token, 0)
            if u:
                v = ((v + u) | (v - u)) & full
        return self.size - v.bit_count()


def lcs_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (any hashable items; bit-parallel over the
    longer one, one step per item of the shorter)."""
    if len(a) < len(b):
        a, b = b, a
    return _LcsQuery(a).length(b)


def state_prefix(trie: Any, state: int) -> tuple[int, ...]:
    """The tokens that lead from the root to ``state``: read off the first sequence below it."""
    if state is None or state < 0:
        raise CorpusError("a dead state has no prefix")
    if state == ROOT:
        return ()
    base = _base(trie)
    lo, hi = base.leaf_range(state)
    if lo >= hi:
        raise CorpusError(f"state {state} covers no sequence")
    sequence = base.sequence(lo)
    walked = ROOT
    for i, token in enumerate(sequence):
        walked = base.step(walked, token)
        if walked == state:
            return sequence[:i + 1]
    raise CorpusError(f"state {state} is not on the path of sequence {lo}")


def lookahead_scores(trie: Any, state: int, query_ids: Sequence[int], limit: int = 64, per_token: int = 8,
                     prefix_ids: Sequence[int] | None = None,
                     eos_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens, delta)``: for each of the first ``limit`` allowed next tokens (sorted by id), ``delta`` =
    the best LCS with ``query_ids`` among the first ``per_token`` sequences (in sorted order) the token
    leads to, minus the LCS of the prefix so far with ``query_ids`` (always >= 0: a prefix is a
    subsequence of each of its completions).

    ``prefix_ids`` are the tokens walked to ``state`` (from the root of the trie, without any forced
    prefix); when None they are reconstructed with ``state_prefix``, else checked to lead to ``state``.
    With ``eos_id`` given and ``state`` a complete sequence, ``eos_id`` is appended with delta 0.
    Both arrays are int64; align model probabilities with ``probs[tokens]``.
    """
    if state is None or state < 0:
        raise CorpusError("look-ahead from a dead state")
    if prefix_ids is None:
        prefix_ids = state_prefix(trie, state)
    elif trie.walk(prefix_ids) != state:
        raise CorpusError(f"prefix_ids {list(prefix_ids)} do not lead to state {state}")
    query = _LcsQuery(query_ids)
    base_lcs = query.length(prefix_ids)
    tokens = np.asarray(trie.allowed(state)[:max(limit, 0)], dtype=np.int64)
    delta = np.zeros(len(tokens), dtype=np.int64)
    for i, token in enumerate(tokens.tolist()):
        following = trie.completions(trie.step(state, token), limit=max(per_token, 1))
        delta[i] = max(query.length(seq) for seq in following) - base_lcs
    if eos_id is not None and trie.is_complete(state):
        tokens = np.append(tokens, np.int64(eos_id))
        delta = np.append(delta, np.int64(0))
    return tokens, delta


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = np.max(x, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (np.log(np.sum(np.exp(x - top), axis=-1, keepdims=True)) + top)


def lookahead_reweight(probs: Any, delta: Any, log: bool = False, normalize: bool | None = None,
                       atol: float = 1e-6) -> np.ndarray:
    """``probs ** (1 / (delta + 1))``: tokens whose look-ahead gain ``delta`` is larger are pushed up.

    ``probs`` is ``[..., n]`` aligned with ``delta`` ``[n]`` (broadcast). With ``log=True`` the input and
    output are log-probabilities (``logp / (delta + 1)``). ``normalize=None`` renormalizes each row that
    was normalized on input (sum 1, or logsumexp 0, within ``atol``); True or False forces it.
    Returns float64.
    """
    p = np.asarray(probs, dtype=np.float64)
    d = np.asarray(delta, dtype=np.float64)
    if np.any(d <= -1):
        raise CorpusError("delta must be > -1 (look-ahead gains are >= 0)")
    exponent = 1.0 / (d + 1.0)
    if log:
        out = p * exponent
        total = _logsumexp(p)
        was = np.abs(total) <= atol
    else:
        if np.any(p < 0):
            raise CorpusError("probabilities must be >= 0 (give log=True for log-probabilities)")
        out = p ** exponent
        was = np.abs(np.sum(p, axis=-1, keepdims=True) - 1.0) <= atol
    if normalize is False:
        return out
    if normalize is True:
        was = np.ones_like(was, dtype=bool)
    if log:
        return np.where(was, out - _logsumexp(out), out)
    total = np.sum(out, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(was & (total > 0), out / np.where(total > 0, total, 1.0), out)
