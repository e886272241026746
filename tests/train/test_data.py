"""gradlab/train/data.py: the vocabulary, the shipped book, and truncated-BPTT batches."""

import numpy as np
import pytest

from gradlab.train.data import BOOKS, SENTENCES, Batches, Vocab, book, load_text


def test_the_vocabulary_is_the_sorted_distinct_characters_and_round_trips():
    vocab = Vocab.from_text("Amazon is river.")
    assert vocab.chars == " .Aaeimnorsvz" and vocab.size == 13
    ids = vocab.encode("Amazon is river.")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "Amazon is river."
    assert vocab.one_hot(ids[:, None]).shape == (16, 1, 13)


@pytest.mark.parametrize("bad, error, message", [
    ("aab", ValueError, "vocab: expected distinct characters"),
    ("", ValueError, "vocab: expected at least 1 characters"),
    (3, TypeError, "vocab: expected a str, got int"),
])
def test_a_bad_vocabulary_names_what_is_wrong(bad, error, message):
    with pytest.raises(error, match=message):
        Vocab(bad)


def test_encoding_a_character_outside_the_vocabulary_names_it():
    with pytest.raises(ValueError, match=r"prime: expected characters of the vocabulary 'ab', got 'z'"):
        Vocab("ab").encode("abz", "prime")


def test_batches_cut_the_pairs_into_contiguous_time_major_streams():
    ids = np.arange(12)  # 11 pairs; B = 2 streams of L = 5, the last pair dropped
    batches = Batches(ids, seq_length=2, batch_size=2)
    assert batches.inputs.shape == (5, 2) and len(batches) == 3
    assert list(batches.inputs[:, 0]) == [0, 1, 2, 3, 4] and list(batches.inputs[:, 1]) == [5, 6, 7, 8, 9]
    assert np.array_equal(batches.targets, batches.inputs + 1)
    first, second, last = (batches.chunk(k) for k in range(3))
    assert first.first and not second.first and not last.first
    assert np.array_equal(second.inputs[0], first.targets[-1])  # each window continues the previous one
    assert last.inputs.shape == (1, 2)  # the rest of the streams
    assert batches.chunk(3).first and np.array_equal(batches.chunk(3).inputs, first.inputs)  # cycles


@pytest.mark.parametrize("kwargs, error, message", [
    ({"seq_length": 0}, ValueError, "seq_length: expected a positive integer, got 0"),
    ({"seq_length": True}, TypeError, "seq_length: expected a positive integer, got True"),
    ({"seq_length": 3, "batch_size": 5}, ValueError, r"batch_size: expected at most len\(text\) - 1 = 4 streams"),
])
def test_bad_batches_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        Batches(np.arange(5), **kwargs)


def test_the_shipped_book_is_hamlet_and_is_package_data():
    text = book("hamlet")
    assert text.startswith("HAMLET, PRINCE OF DENMARK") and 150_000 < len(text) < 400_000
    assert "To be, or not to be" in text and "Gutenberg" not in text
    assert set(BOOKS) == {"hamlet"} and len(Vocab.from_text(text).chars) == 65
    with pytest.raises(ValueError, match="book: expected one of hamlet, got 'moby'"):
        book("moby")


def test_load_text_reads_utf8_and_refuses_other_bytes(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(SENTENCES[1], encoding="utf-8")
    bad.write_bytes(b"caf\xe9 au lait")
    assert load_text(good) == SENTENCES[1]
    with pytest.raises(ValueError, match="file: expected UTF-8 text"):
        load_text(bad)
    with pytest.raises(OSError):
        load_text(tmp_path / "missing.txt")
