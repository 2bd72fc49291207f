"""The parser of the command and its subcommands: mistakes are one line on stderr with exit
code 2, and help text wraps only between words, with examples kept whole."""

from __future__ import annotations

import argparse
import textwrap
from typing import NoReturn

__all__ = ["HelpFormatter", "Parser"]


class HelpFormatter(argparse.HelpFormatter):
    """Wraps at spaces only: never inside a file name, a module:function or an option (argparse
    breaks at hyphens). Lines starting with "example:" are printed as they are, to be copied."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if line.startswith("example:"):
                lines.append(indent + line)
            else:
                lines += [indent + part for part in self._split_lines(line, width - len(indent))]
        return "\n".join(lines)


class Parser(argparse.ArgumentParser):
    """Options are spelled out: an abbreviation (--thread for --threads) is a mistake, not a
    guess that a new option would later turn ambiguous."""

    def __init__(self, *args, formatter_class: type = HelpFormatter, allow_abbrev: bool = False, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message: str) -> NoReturn:
        """One line, as every other mistake (argparse would print the usage first)."""
        self.exit(2, f"{self.prog}: error: {message}\n")
