"""Tokenize text (jieba, char, whitespace, a tokenizer.json) over many processes, and build vocabularies.

    from corpuskit import read, tokenize, write
    (read("raw/*.txt") | tokenize("jieba", workers=2) | write("tok.parquet")).run()
"""

from corpuskit.tokenize.stage import tokenize
from corpuskit.tokenize.tokenizers import TokenizerSpec, tokenizer_spec
from corpuskit.tokenize.vocab import SPECIALS, Vocab, build_vocab, count_tokens, load_vocab, vocab_from_counts

__all__ = ["SPECIALS", "TokenizerSpec", "Vocab", "build_vocab", "count_tokens", "load_vocab", "tokenize",
           "tokenizer_spec", "vocab_from_counts"]
