"""The ``corpuskit`` command: parse arguments, call the library, print. Nothing more."""

from __future__ import annotations

import functools
import json
import os
import shlex
import signal
import sys
from typing import Any, Callable

import click

from corpuskit.errors import CorpusError
from corpuskit.version import __version__

COMPRESS = click.Choice(["zst", "gz", "none"])
FORMAT = click.Choice(["text", "jsonl", "parquet"])


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["corpuskit", *sys.argv[1:]])


def common(fn: Callable) -> Callable:
    """--quiet, --progress and --debug on every command, and one-line errors."""

    @click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
    @click.option("--progress/--no-progress", default=None,
                  help="Force the progress bar on or off (default: on when stderr is a terminal).")
    @click.option("--debug", is_flag=True, help="Show the traceback of an error.")
    @functools.wraps(fn)
    def wrapper(quiet: bool, progress: bool | None, debug: bool, **kwargs: Any) -> None:
        signal.signal(signal.SIGTERM, _terminate)
        try:
            fn(progress=False if quiet else progress, quiet=quiet, **kwargs)
        except CorpusError as exc:
            if debug:
                raise
            click.echo(f"corpuskit: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("corpuskit: interrupted; no output was left under its final name", err=True)
            sys.exit(130)
        except click.ClickException:
            raise
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as exc:
            if debug:
                raise
            click.echo(f"corpuskit: internal error: {type(exc).__name__}: {exc} "
                       "(run again with --debug for the traceback)", err=True)
            sys.exit(1)

    return wrapper


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def io_options(fn: Callable) -> Callable:
    """Options shared by commands that read inputs and write an output."""
    options = [
        click.option("--in-format", type=FORMAT, help="Read inputs as this format (default: by extension)."),
        click.option("--field", help="The field that holds the text (JSONL, Parquet)."),
        click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
                     help="A malformed record stops the run, or is skipped and counted."),
        click.option("--format", "out_format", type=FORMAT, help="Output format (default: by extension)."),
        click.option("--shards", type=int, help="Write a folder of N contiguous parts of equal record count."),
        click.option("--shard-size", help="Write a folder of parts of about this size (e.g. 1G)."),
        click.option("--compress", type=COMPRESS, help="Output compression (default: by extension)."),
        click.option("--level", type=int, help="Compression level."),
        click.option("--threads", type=int, default=0, show_default=True, help="zstd compression threads."),
        click.option("--force", "-f", is_flag=True, help="Replace an existing output."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def writer_from(output: str, opts: dict) -> Any:
    from corpuskit.io.writer import write

    return write(output, format=opts["out_format"], shards=opts["shards"], shard_size=opts["shard_size"],
                 compress=opts["compress"], level=opts["level"], threads=opts["threads"],
                 force=opts["force"], field=opts["field"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corpuskit")
def main() -> None:
    """Prepare large training corpora: read, shuffle, tokenize, build tries, split."""


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, help="A file, '-' for stdout, or a folder for shards.")
@io_options
@common
def cat(inputs: tuple[str, ...], output: str, progress: bool | None, quiet: bool, **opts: Any) -> None:
    """Concatenate INPUTS (files, globs, folders, '-') into one output, converting formats.

    \b
    corpuskit cat 'data/*.jsonl.zst' -o merged.parquet
    corpuskit cat big.txt -o out/ --shards 16 --compress zst
    """
    from corpuskit.io.reader import read

    pipe = read(list(inputs), format=opts["in_format"], field=opts["field"], on_error=opts["on_error"])
    stats = (pipe | writer_from(output, opts)).run(progress=progress, command=command_line())
    if not quiet:
        click.echo(stats.summary(), err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--in-format", type=FORMAT, help="Read inputs as this format (default: by extension).")
@click.option("--field", help="The field that must be present (JSONL, Parquet).")
@click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, then the total.")
@common
def count(inputs: tuple[str, ...], in_format: str | None, field: str | None, on_error: str,
          as_json: bool, progress: bool | None, quiet: bool) -> None:
    """Count the records and bytes of INPUTS, per file and in total."""
    from corpuskit.io.count import count as count_records

    results = count_records(list(inputs), format=in_format, field=field, on_error=on_error)
    total = {"path": "total", "records": sum(r["records"] for r in results),
             "bytes": sum(r["bytes"] or 0 for r in results)}
    if as_json:
        for row in results + [total]:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    for row in results + ([total] if len(results) > 1 else []):
        click.echo(f"{row['records']:>14,} records {row['bytes'] or 0:>18,} bytes  {row['path']}")


@main.command(name="shuffle")
@click.argument("paths", nargs=-1, required=True)
@click.option("--mem", default="1G", show_default=True, help="Memory bound for the whole run (e.g. 256M, 4G).")
@click.option("--seed", type=int, help="Seed; the same seed and inputs give the same output. Drawn and printed if absent.")
@click.option("--tmp", type=click.Path(file_okay=False), help="Folder for temporary buckets (default: $TMPDIR or /tmp).")
@click.option("--compress-temp/--no-compress-temp", default=False, show_default=True,
              help="zstd level 1 for temporary buckets: half the temp space, twice the CPU.")
@click.option("--verify", is_flag=True, help="Check on the fly that the output holds exactly the input's records.")
@click.option("--resume", is_flag=True, help="Keep a finished scatter on failure, and continue after it when run again.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Buckets sorted at once (and threads for one in-memory pass); the output is the same.")
@io_options
@common
def shuffle_command(paths: tuple[str, ...], mem: str, seed: int | None, tmp: str | None, compress_temp: bool,
                    verify: bool, resume: bool, workers: int, progress: bool | None, quiet: bool,
                    **opts: Any) -> None:
    """Globally shuffle records: PATHS are inputs (files, globs, folders) then the output.

    \b
    corpuskit shuffle in.txt out.txt --mem 4G
    corpuskit shuffle 'corpus/*.jsonl.zst' extra.jsonl out/ --shards 256 --mem 8G --seed 7 --tmp /scratch
    """
    from corpuskit.shuffle import shuffle

    if len(paths) < 2:
        raise click.UsageError("give one or more inputs and then the output")
    log = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
    result = shuffle(list(paths[:-1]), paths[-1], mem=mem, seed=seed, tmp=tmp, compress_temp=compress_temp,
                     format=opts["out_format"], in_format=opts["in_format"], field=opts["field"],
                     shards=opts["shards"], shard_size=opts["shard_size"], compress=opts["compress"],
                     level=opts["level"], threads=opts["threads"], force=opts["force"], verify=verify,
                     resume=resume, workers=workers, progress=progress, log=log, command=command_line())
    if not quiet:
        click.echo(result.summary(), err=True)
    if result.verified is not None and not result.verified["match"]:
        sys.exit(3)


class _InputsThenOutputs(click.Command):
    """Remembers how many arguments follow ``--``: those are the outputs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            ctx.meta["outputs"] = len(args) - args.index("--") - 1
        return super().parse_args(ctx, args)


@main.command(cls=_InputsThenOutputs)
@click.argument("paths", nargs=-1, required=True)
@click.option("--in-format", type=FORMAT, help="Read files as this format (default: by extension).")
@click.option("--field", help="The text field of Parquet records.")
@click.option("--records", is_flag=True,
              help="Compare JSONL and Parquet as records (canonical JSON), not JSONL lines as bytes.")
@common
def verify(paths: tuple[str, ...], in_format: str | None, field: str | None, records: bool,
           progress: bool | None, quiet: bool) -> None:
    """Check that OUTPUTS hold exactly the records of INPUTS, in any order: IN... -- OUT...

    Compares the record count and the sum of xxh64 of every record (order-independent).
    Exit status 0 when they match, 3 when they do not.
    """
    from corpuskit.shuffle.verify import fingerprint

    n_outputs = click.get_current_context().meta.get("outputs", 0)
    if not 0 < n_outputs < len(paths):
        raise click.UsageError("separate inputs from outputs with --: corpuskit verify IN... -- OUT...")
    inputs, outputs = list(paths[:-n_outputs]), list(paths[-n_outputs:])
    got_in = fingerprint(inputs, format=in_format, field=field, records=records)
    got_out = fingerprint(outputs, format=in_format, field=field, records=records)
    match = got_in == got_out
    click.echo(f"inputs:  {got_in.records:,} records, xxh64 sum {got_in.as_dict()['xxh64_sum']}")
    click.echo(f"outputs: {got_out.records:,} records, xxh64 sum {got_out.as_dict()['xxh64_sum']}")
    click.echo("OK: the outputs hold exactly the inputs' records" if match else
               "MISMATCH: records were lost, added or changed")
    if not match:
        sys.exit(3)


def tokenizer_options(fn: Callable) -> Callable:
    """How text becomes tokens: shared by ``tokenize`` and ``vocab``."""
    options = [
        click.option("--mode", type=click.Choice(["accurate", "search", "full"]), default="accurate",
                     show_default=True, help="jieba: accurate, search-engine or full segmentation."),
        click.option("--hmm/--no-hmm", default=True, show_default=True, help="jieba: guess unknown words with the HMM."),
        click.option("--user-dict", type=click.Path(), help="jieba: a user dictionary ('word [freq] [tag]' lines)."),
        click.option("--engine", type=click.Choice(["jieba", "rjieba"]), default="jieba", show_default=True,
                     help="jieba's Python code, or rjieba (Rust, ~10x faster, nearly always the same tokens)."),
        click.option("--keep-ascii", is_flag=True, help="char: keep runs of ASCII letters and digits as one token."),
        click.option("--drop-space", is_flag=True, help="Leave out tokens that are only whitespace."),
        click.option("--errors", type=click.Choice(["strict", "replace"]), default="strict", show_default=True,
                     help="Invalid UTF-8 stops the run (strict) or becomes U+FFFD (replace)."),
        click.option("--workers", "-j", type=int, default=1, show_default=True,
                     help="Tokenizer processes (0: one per core); the output is the same for any number."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _tokenize_options(opts: dict) -> dict:
    return {name: opts.pop(name) for name in
            ("mode", "hmm", "user_dict", "engine", "keep_ascii", "drop_space", "errors", "workers")}


@main.command(name="tokenize")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, help="A file, '-' for stdout, or a folder for shards.")
@click.option("--tokenizer", "-t", default="jieba", show_default=True,
              help="jieba, char, whitespace, or hf:PATH/tokenizer.json.")
@tokenizer_options
@click.option("--vocab", type=click.Path(), help="Write token ids from this vocabulary (token<TAB>count lines).")
@click.option("--unk", default="[UNK]", show_default=True, help="The vocabulary's token for unknown tokens.")
@click.option("--ids", is_flag=True, help="hf: write the tokenizer's own ids.")
@click.option("--column", help="Name of the added column (default: tokens, or ids).")
@click.option("--sep", default=" ", show_default=True, help="Separator between tokens in text output.")
@io_options
@common
def tokenize_command(inputs: tuple[str, ...], output: str, tokenizer: str, vocab: str | None, unk: str, ids: bool,
                     column: str | None, sep: str, progress: bool | None, quiet: bool, **opts: Any) -> None:
    """Tokenize the text of INPUTS: a tokens column, or tokens joined by --sep in text output.

    \b
    corpuskit tokenize raw.txt -o tok.txt --tokenizer char
    corpuskit tokenize 'raw/*.jsonl.zst' -o tok/ --tokenizer jieba --workers 2 --shards 16
    corpuskit tokenize raw.txt -o ids.txt --tokenizer jieba --vocab vocab.txt
    """
    from corpuskit.io.reader import read
    from corpuskit.tokenize import tokenize

    stage = tokenize(tokenizer, vocab=vocab, unk=unk, ids=ids, field=opts["field"], column=column, sep=sep,
                     **_tokenize_options(opts))
    pipe = read(list(inputs), format=opts["in_format"], field=opts["field"], on_error=opts["on_error"])
    if not quiet:
        workers = stage.settings["workers"]
        where = "in this process" if workers == 1 else f"in {workers} worker processes"
        click.echo(f"plan: {stage.name.removeprefix('tokenize:')} {where}, {len(pipe.source.specs)} input file(s), "
                   f"{_size(pipe.source.total_bytes())}, adding column {stage.settings['column']!r}", err=True)
    stats = (pipe | stage | writer_from(output, {**opts, "field": None})).run(progress=progress,
                                                                             command=command_line())
    if not quiet:
        click.echo(stats.summary(), err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, help="The vocabulary file: token<TAB>count lines.")
@click.option("--tokenizer", "-t", help="Tokenize raw text on the way (default: inputs hold tokens already).")
@tokenizer_options
@click.option("--min-count", type=int, default=1, show_default=True, help="Keep tokens seen at least this often.")
@click.option("--max-size", type=int, help="At most this many entries, special tokens included.")
@click.option("--special", "specials", multiple=True,
              help="A reserved token, first in the file (repeatable; default: [PAD] [UNK]).")
@click.option("--no-specials", is_flag=True, help="No reserved tokens.")
@click.option("--sep", default=" ", show_default=True, help="Separator between tokens in text inputs.")
@click.option("--in-format", type=FORMAT, help="Read inputs as this format (default: by extension).")
@click.option("--field", help="The field holding tokens (a list) or text (JSONL, Parquet).")
@click.option("--force", "-f", is_flag=True, help="Replace an existing output.")
@common
def vocab(inputs: tuple[str, ...], output: str, tokenizer: str | None, min_count: int, max_size: int | None,
          specials: tuple[str, ...], no_specials: bool, sep: str, in_format: str | None, field: str | None,
          force: bool, progress: bool | None, quiet: bool, **opts: Any) -> None:
    """Count the tokens of INPUTS and write the vocabulary: specials first, then by count.

    \b
    corpuskit vocab tok/ -o vocab.txt --min-count 5 --max-size 50000
    corpuskit vocab raw.txt -o vocab.txt --tokenizer jieba --workers 2
    """
    from corpuskit.tokenize import SPECIALS, build_vocab

    tokenize_options = _tokenize_options(opts)
    if tokenizer is None:
        tokenize_options = {}
    if not quiet:
        how = f"tokenized by {tokenizer}" if tokenizer else f"split at {sep!r} (or their tokens column)"
        click.echo(f"plan: count the tokens of {len(inputs)} input argument(s), {how}; keep those seen "
                   f"{min_count}+ times" + (f", at most {max_size:,} entries" if max_size else ""), err=True)
    result = build_vocab(list(inputs), output, field=field, format=in_format, tokenizer=tokenizer, sep=sep,
                         min_count=min_count, max_size=max_size,
                         specials=() if no_specials else (specials or SPECIALS), force=force,
                         progress=progress, command=command_line(), **tokenize_options)
    if not quiet:
        left_out = f"; {result.skipped:,} tokens with tabs or line breaks left out" if result.skipped else ""
        click.echo(f"{output}: {len(result):,} entries, {sum(result.counts):,} occurrences kept{left_out}",
                   err=True)


def _size(n: int | None) -> str:
    from corpuskit.units import format_size

    return "unknown size (stdin)" if n is None else format_size(n)


@main.group()
def trie() -> None:
    """Prefix tries of token sequences for constrained decoding: build, query, stats."""


@trie.command(name="build")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, help="The trie file to write.")
@click.option("--tokenizer", "-t", default="char", show_default=True,
              help="char, jieba, whitespace, hf:PATH/tokenizer.json, or ids (space-separated token ids).")
@tokenizer_options
@click.option("--field", help="The field holding each sequence's text (JSONL, Parquet).")
@click.option("--template", help="Text from several fields, e.g. '{s}|{p}|{m}'.")
@click.option("--vocab", type=click.Path(), help="Token ids from this vocabulary (default: the tokenizer's own, "
              "or one grown in order of first appearance and stored in the trie).")
@click.option("--unk", help="Map tokens missing from --vocab to this token instead of stopping.")
@click.option("--payload", help="An integer field kept per sequence (default: the record number from 0).")
@click.option("--eos", type=int, help="The end-of-sequence token id, recorded for decoding.")
@click.option("--vocab-size", type=int, help="Vocabulary size for --tokenizer ids (default: largest id + 1).")
@click.option("--mem", default="1G", show_default=True, help="Memory for sorting (e.g. 512M, 4G).")
@click.option("--tmp", type=click.Path(file_okay=False), help="Folder for sorted runs that do not fit in memory.")
@click.option("--in-format", type=FORMAT, help="Read inputs as this format (default: by extension).")
@click.option("--force", "-f", is_flag=True, help="Replace an existing output.")
@common
def trie_build(inputs: tuple[str, ...], output: str, tokenizer: str, field: str | None, template: str | None,
               vocab: str | None, unk: str | None, payload: str | None, eos: int | None, vocab_size: int | None,
               mem: str, tmp: str | None, in_format: str | None, force: bool, progress: bool | None, quiet: bool,
               **opts: Any) -> None:
    """Build a trie from the sequences in INPUTS (one per line or record).

    \b
    corpuskit trie build triples.txt -o kb.trie --tokenizer char --mem 4G
    corpuskit trie build titles.jsonl --field title -o titles.trie --tokenizer hf:tokenizer.json --eos 1
    corpuskit trie build ids.txt -o ids.trie --tokenizer ids
    """
    from corpuskit.trie import build_trie

    tokenize_options = {k: v for k, v in _tokenize_options(opts).items() if v != _DEFAULTS[k]}
    workers = tokenize_options.pop("workers", 1)
    log = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
    result = build_trie(list(inputs), output, tokenizer=tokenizer, field=field, template=template, vocab=vocab,
                        unk=unk, payload=payload, eos=eos, vocab_size=vocab_size, mem=mem, tmp=tmp,
                        format=in_format, workers=workers, force=force, progress=progress,
                        command=command_line(), log=log, **tokenize_options)
    if not quiet:
        click.echo(result.summary(), err=True)


_DEFAULTS = {"mode": "accurate", "hmm": True, "user_dict": None, "engine": "jieba", "keep_ascii": False,
             "drop_space": False, "errors": "strict", "workers": 1}


@trie.command(name="query")
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("prefixes", nargs=-1)
@click.option("--queries", type=click.Path(dir_okay=False), help="A file of prefixes, one per line ('-' for stdin).")
@click.option("--ids", "as_ids", is_flag=True, help="Prefixes and answers as token ids, not strings.")
@click.option("--complete", type=int, default=0, show_default=True, help="Also list up to N completions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per prefix.")
@common
def trie_query(path: str, prefixes: tuple[str, ...], queries: str | None, as_ids: bool, complete: int,
               as_json: bool, progress: bool | None, quiet: bool) -> None:
    """What may follow each prefix: allowed next tokens, whether it is complete, how many sequences.

    \b
    corpuskit trie query kb.trie "明天下" --complete 10
    corpuskit trie query kb.trie --queries prefixes.txt --json
    """
    from corpuskit.trie import Trie
    from corpuskit.trie.query import answer, read_prefixes

    trie_file = Trie.open(path)
    for prefix in read_prefixes(prefixes, queries):
        result = answer(trie_file, prefix, as_ids, complete)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
            continue
        shown = " ".join(map(str, result["allowed"][:50])) + (" ..." if len(result["allowed"]) > 50 else "")
        state = "complete" if result["complete"] else ("dead" if result["count"] == 0 else "prefix")
        click.echo(f"{result['prefix']!r}: {state}, {result['count']:,} sequences; next: {shown}")
        for completion in result.get("completions", []):
            click.echo(f"    {completion}")


@trie.command(name="stats")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--verify", is_flag=True, help="Read the whole file and check its checksums.")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@common
def trie_stats(path: str, verify: bool, as_json: bool, progress: bool | None, quiet: bool) -> None:
    """Counts, sizes and settings of a trie file."""
    from corpuskit.trie.query import stats

    info = stats(path, verify)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key:>16}: {value}")


@main.command(name="split")
@click.argument("train", nargs=-1, required=True)
@click.option("--test", "tests", multiple=True, help="The test set (repeatable; files, globs, folders).")
@click.option("--output", "-o", help="Folder for train, valid, weights.parquet, report.json and report.html.")
@click.option("--field", help="The field holding the text (JSONL, Parquet).")
@click.option("--in-format", type=FORMAT, help="Read inputs as this format (default: by extension).")
@click.option("--valid-size", type=int, help="Records to draw for validation.")
@click.option("--valid-frac", type=float, help="Validation size as a share of the training records.")
@click.option("--method", type=click.Choice(["adversarial", "random"]), default="adversarial", show_default=True)
@click.option("--replace/--no-replace", default=True, show_default=True, help="Draw with replacement.")
@click.option("--weights-only", is_flag=True, help="Write per-record weights and the report, no split.")
@click.option("--tokenizer", help="Features from this tokenizer (default: CJK characters and ASCII words).")
@click.option("--sample", type=int, default=100_000, show_default=True,
              help="Fit the discriminator on a uniform sample of at most this many training records.")
@click.option("--mem", help="Memory bound (e.g. 2G): the sample shrinks to fit it.")
@click.option("--tmp", type=click.Path(file_okay=False), help="Scratch folder when there is no --output.")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--check-frac", type=float, default=0.3, show_default=True,
              help="Share of the test set held out of the weights to judge the split with.")
@click.option("--min-auc", type=float, default=0.55, show_default=True,
              help="Below this train-vs-test AUC there is no shift to correct.")
@click.option("--no-fallback", is_flag=True, help="Weight even when train and test look alike.")
@click.option("--force", "-f", is_flag=True, help="Replace an existing output folder.")
@common
def split_command(train: tuple[str, ...], tests: tuple[str, ...], output: str | None, field: str | None,
                  in_format: str | None, valid_size: int | None, valid_frac: float | None, method: str,
                  replace: bool, weights_only: bool, tokenizer: str | None, sample: int, mem: str | None,
                  tmp: str | None, folds: int, seed: int, check_frac: float, min_auc: float, no_fallback: bool,
                  force: bool, progress: bool | None, quiet: bool) -> None:
    """Carve a validation set out of TRAIN that resembles the test set (adversarial validation).

    \b
    corpuskit split train.jsonl --test test.jsonl -o split/ --valid-size 5000 --field text --seed 1
    corpuskit split train.jsonl --test test.jsonl -o split/ --weights-only
    corpuskit split train.jsonl -o split/ --valid-frac 0.05 --method random
    """
    from corpuskit.split import split

    log = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
    result = split(list(train), list(tests) or None, output, field=field, format=in_format, valid_size=valid_size,
                   valid_frac=valid_frac, method=method, replace=replace, weights_only=weights_only,
                   tokenizer=tokenizer, sample=sample, mem=mem, tmp=tmp, folds=folds, seed=seed,
                   check_frac=check_frac, min_auc=min_auc, fallback=not no_fallback, force=force,
                   progress=progress, command=command_line(), log=log)
    if not quiet:
        click.echo(result.summary(), err=True)


if __name__ == "__main__":
    main()
