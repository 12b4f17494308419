"""Which earlier releases the upgrade suite starts from, and how a wrong one is reported."""

from __future__ import annotations

import pytest

from e2e.harness import releases
from e2e.harness.modes import HarnessError


def test_the_supported_releases_are_the_files_lines_without_comments() -> None:
    text = "# a comment\n\ne82e621  # the first release\nf80d501\n"

    assert releases.supported_releases(text) == ["e82e621", "f80d501"]


def test_the_repository_lists_the_releases_it_must_upgrade_from() -> None:
    refs = releases.supported_releases()

    assert refs[0] == "e82e621"
    assert all(releases.resolve(ref) for ref in refs)


def test_upgrade_from_picks_releases_separated_by_commas_or_spaces() -> None:
    chosen = releases.requested_releases({"UPGRADE_FROM": "e82e621, f80d501 abc"})

    assert chosen == ["e82e621", "f80d501", "abc"]


def test_without_upgrade_from_every_supported_release_is_chosen() -> None:
    assert releases.requested_releases({}) == releases.supported_releases()


def test_a_ref_that_is_no_commit_here_is_one_sentence_naming_it() -> None:
    with pytest.raises(HarnessError, match=r"UPGRADE_FROM=no-such-ref is not a commit"):
        releases.resolve("no-such-ref")
