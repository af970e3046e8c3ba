"""Exact and near-duplicate detection: content hashes and MinHash LSH over word shingles."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Hashable

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

WORD = re.compile(r"\w+")
SCHEME = "affine32"


def words(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation and spacing are ignored."""
    return WORD.findall(text.lower())


def exact_key(text: str) -> bytes:
    """A 128-bit hash of the text with case, punctuation and spacing normalised away."""
    return hashlib.blake2b(" ".join(words(text)).encode("utf-8"), digest_size=16).digest()


def _identity(value: int) -> int:
    return value


class Signer:
    """MinHash signatures of word-shingle sets, sharing one set of permutations."""

    def __init__(self, num_perm: int, shingle: int, seed: int) -> None:
        if shingle < 1:
            raise ValueError(f"shingle must be >= 1, got {shingle}")
        self.shingle = shingle
        self.template = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity, scheme=SCHEME)

    def signature(self, text: str) -> np.ndarray:
        """The MinHash values of the document's word shingles (crc32-hashed)."""
        tokens = words(text)
        k = min(self.shingle, len(tokens)) or 1
        shingles = {" ".join(tokens[i : i + k]) for i in range(max(len(tokens) - k + 1, 1))}
        m = self.template.copy()
        m.update_batch([zlib.crc32(s.encode("utf-8")) for s in shingles])
        return m.hashvalues


class NearDuplicateIndex:
    """A MinHash LSH index that reports, for each new document, an indexed near-duplicate."""

    def __init__(self, threshold: float, num_perm: int, seed: int) -> None:
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.seed = seed

    def add(self, key: Hashable, hashvalues: np.ndarray) -> Hashable | None:
        """Return the key of an indexed near-duplicate of this document, else index it and return None."""
        minhash = LeanMinHash(seed=self.seed, hashvalues=hashvalues, scheme=SCHEME)
        candidates = self.lsh.query(minhash)
        if candidates:
            return min(candidates)
        if key in self.lsh:
            raise ValueError(f"document key {key!r} occurs twice")
        self.lsh.insert(key, minhash, check_duplication=False)
        return None
