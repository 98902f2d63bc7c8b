"""Prefix tries of token sequences for constrained decoding: built in bounded memory, memory-mapped to query.

    from corpuskit.trie import Trie, build_trie
    build_trie("triples.txt", "kb.trie", tokenizer="char", mem="4G")
    trie = Trie.open("kb.trie")
    state = trie.walk(trie.encode("明天"))
    trie.allowed(state), trie.count(state), trie.completions(state, limit=10)
"""

from corpuskit.trie.build import TrieBuild, build_trie
from corpuskit.trie.decoding import (TrieLogitsProcessor, lcs_length, lookahead_reweight, lookahead_scores,
                                     prefix_allowed_tokens_fn)
from corpuskit.trie.trie import DEAD, ROOT, RestrictedTrie, Trie

__all__ = ["DEAD", "ROOT", "RestrictedTrie", "Trie", "TrieBuild", "TrieLogitsProcessor", "build_trie", "lcs_length",
           "lookahead_reweight", "lookahead_scores", "prefix_allowed_tokens_fn"]
