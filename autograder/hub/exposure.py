"""Who besides a directory tree's owner can read what is in it, from the mode bits of each path and its parents.

A file is readable by another user when every directory above it lets that user in (``x``) and
the file lets that user read (``r``). "Another user" is anyone through the world bits, and the
members of the file's group other than the owner through the group bits (a group only the owner
is in exposes nothing). The walk never follows links.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.hub.accounts import group_members, group_name, user_name


@dataclass(frozen=True)
class Exposed:
    """One path another user can read (a directory: list), and who."""

    path: Path
    mode: int
    readers: str  # "every user" or "group G (a, b)"


@dataclass(frozen=True)
class _Reach:
    """Who can get into a directory: every user, and/or the members of some groups."""

    world: bool
    groups: frozenset[int]

    @property
    def nobody(self) -> bool:
        return not self.world and not self.groups


class Exposure:
    """Find what users other than ``owner_uid`` (and root) can read below a directory."""

    def __init__(self, owner_uid: int) -> None:
        self.owner = user_name(owner_uid)
        self._members: dict[int, set[str]] = {}

    def others_in(self, gid: int) -> set[str]:
        """Members of group ``gid`` besides the owner and root."""
        if gid not in self._members:
            self._members[gid] = group_members(gid) - {self.owner, "root"}
        return self._members[gid]

    def _step(self, reach: _Reach, st: os.stat_result) -> _Reach:
        """Who gets past a directory with this stat (a group member is judged by the group bits, others by
        the world bits, as the kernel does)."""
        mode, gid = st.st_mode, st.st_gid
        groups = {g for g in reach.groups if mode & (stat.S_IXGRP if g == gid else stat.S_IXOTH)}
        if (reach.world or gid in reach.groups) and mode & stat.S_IXGRP and self.others_in(gid):
            groups.add(gid)
        return _Reach(reach.world and bool(mode & stat.S_IXOTH), frozenset(groups))

    def reach_of(self, directory: Path) -> _Reach:
        """Who can get into ``directory`` (through every directory from /)."""
        reach = _Reach(True, frozenset())
        for path in [*reversed(Path(directory).parents), Path(directory)]:
            reach = self._step(reach, os.stat(path))
        return reach

    def readers(self, reach: _Reach, st: os.stat_result) -> str | None:
        """Who, given the reach of its directory, can read a path with this stat (None: nobody else)."""
        mode, gid = st.st_mode, st.st_gid
        if reach.world and mode & stat.S_IROTH:
            return "every user"
        via = {gid} if mode & stat.S_IRGRP and (reach.world or gid in reach.groups) else set()
        via |= {g for g in reach.groups if g != gid and mode & stat.S_IROTH}
        users = sorted(set().union(*(self.others_in(g) for g in via))) if via else []
        if users:
            names = ", ".join(group_name(g) for g in sorted(via))
            return f"group {names} ({', '.join(users[:5])}{', ...' if len(users) > 5 else ''})"
        return None

    def walk(self, root: Path) -> Iterator[Exposed]:
        """Every path at or below ``root`` that someone besides the owner can read."""
        root = Path(root)
        st = os.lstat(root)
        parent_reach = self.reach_of(root.parent)
        who = self.readers(parent_reach, st)
        if who:
            yield Exposed(root, st.st_mode, who)
        if stat.S_ISDIR(st.st_mode):
            yield from self._below(root, self._step(parent_reach, st))

    def _below(self, directory: Path, reach: _Reach) -> Iterator[Exposed]:
        if reach.nobody:
            return  # nobody else gets in: nothing below is exposed
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            path = Path(entry.path)
            who = self.readers(reach, st)
            if who:
                yield Exposed(path, st.st_mode, who)
            if stat.S_ISDIR(st.st_mode):
                yield from self._below(path, self._step(reach, st))
