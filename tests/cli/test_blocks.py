"""BlockSplitter: where the live view's tail begins.

The properties that matter: nothing is lost or reordered, the blocks do not
depend on how the text was cut into deltas, a code fence is never split
unless the tail is too big (and then it is closed and reopened), and the
tail stays within its limits.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamblocks.cli._blocks import BlockSplitter

LINES = st.sampled_from(
    [
        "Some words here.\n",
        "more **bold** text\n",
        "\n",
        "  indented line\n",
        "- item one\n",
        "```python\n",
        "```\n",
        "~~~\n",
        "x = 1\n",
        "| a | b |\n",
        "# Heading\n",
        "no newline at all",
        "    four-space code\n",
        "\t\n",
    ]
)
TEXTS = st.lists(LINES, max_size=40).map("".join)


def _feed_all(splitter: BlockSplitter, pieces: list[str]) -> list[str]:
    blocks: list[str] = []
    for piece in pieces:
        blocks += splitter.feed(piece)
    return blocks


def _cuts(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    points = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, 8))) if len(text) > 1 else []
    edges = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges) if b > a]


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, seed=st.integers(0, 2**16))
def test_nothing_lost_and_blocks_independent_of_the_cuts(text: str, seed: int) -> None:
    big = {"max_lines": 10_000, "max_chars": 10_000_000}
    whole = BlockSplitter(**big)
    whole_blocks = whole.feed(text)
    cut = BlockSplitter(**big)
    cut_blocks = _feed_all(cut, _cuts(text, seed))
    assert cut_blocks == whole_blocks
    assert cut.tail == whole.tail
    bytewise = BlockSplitter(**big)
    assert _feed_all(bytewise, list(text)) == whole_blocks
    assert "".join(whole_blocks) + whole.tail == text
    rest = whole.flush()
    assert "".join(whole_blocks) + rest == text
    assert whole.tail == ""


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_a_fence_is_never_split_without_overflow(text: str) -> None:
    splitter = BlockSplitter(max_lines=10_000, max_chars=10_000_000)
    for block in splitter.feed(text):
        # Every committed block closes every fence it opens: read on its own,
        # it does not end inside code.
        alone = BlockSplitter(max_lines=10_000, max_chars=10_000_000)
        alone.feed(block)
        assert not alone.in_fence


def test_paragraphs_commit_when_the_next_one_starts() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("First paragraph,\nstill first.\n\n") == []
    # Only a line starting in column 0 confirms the boundary.
    assert splitter.feed("Second") == ["First paragraph,\nstill first.\n\n"]
    assert splitter.tail == "Second"


def test_an_indented_continuation_keeps_the_block_open() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("- item\n\n  more of the item\n\n") == []
    assert splitter.feed("Next\n") == ["- item\n\n  more of the item\n\n"]


def test_blank_lines_inside_a_fence_do_not_split() -> None:
    splitter = BlockSplitter()
    code = "```python\ndef f():\n\n    return 1\n\nx = f()\n```\n"
    assert splitter.feed(code + "\n") == []
    assert splitter.feed("After.") == [code + "\n"]


def test_a_longer_fence_is_closed_only_by_a_long_enough_marker() -> None:
    splitter = BlockSplitter()
    body = "````\n```\nstill code\n\nx\n````\n\n"
    assert splitter.feed(body) == []
    assert not splitter.in_fence
    assert splitter.feed("Prose") == [body]


def test_the_tail_is_bounded_in_lines() -> None:
    splitter = BlockSplitter(max_lines=5, max_chars=10_000)
    blocks = _feed_all(splitter, ["line\n"] * 23)
    assert all(block.count("\n") <= 5 for block in blocks)
    assert splitter.tail.count("\n") < 5
    assert "".join(blocks) + splitter.tail == "line\n" * 23


def test_a_forced_split_in_code_closes_and_reopens_the_fence() -> None:
    splitter = BlockSplitter(max_lines=4, max_chars=10_000)
    blocks = _feed_all(splitter, ["```js\n", *[f"let a{i} = {i};\n" for i in range(6)]])
    assert blocks
    for block in blocks:
        assert block.startswith("```js\n")
        assert block.endswith("```\n")
    assert splitter.tail.startswith("```js\n")
    assert splitter.in_fence


def test_a_line_longer_than_the_limit_is_cut_at_a_space() -> None:
    splitter = BlockSplitter(max_lines=10, max_chars=50)
    words = "word " * 30
    blocks = _feed_all(splitter, list(words))
    assert blocks
    assert all(len(block) <= 51 for block in blocks)
    assert all(block.endswith(" \n") for block in blocks)
    assert len(splitter.tail) <= 50
    joined = "".join(block[:-1] for block in blocks) + splitter.tail
    assert joined == words


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BlockSplitter(max_lines=0)


def test_recent_shows_the_end_of_a_long_code_block_under_its_fence() -> None:
    splitter = BlockSplitter(max_lines=100, max_chars=100_000)
    splitter.feed("Intro.\n\n```py\n" + "".join(f"x{i}\n" for i in range(30)) + "x3")
    assert splitter.recent(5) == "```py\nx25\nx26\nx27\nx28\nx29\nx3"
    # A fence that began within the last lines: everything, prose included.
    assert splitter.recent(40) == splitter.tail
    prose = BlockSplitter(max_lines=100, max_chars=100_000)
    prose.feed("".join(f"line {i}\n" for i in range(30)))
    assert prose.recent(5) == prose.tail  # outside code nothing is cut
