"""Theorem text made safe for a LaTeX handout: prose escaped, ``$...$`` math checked.

Every string a theorem gives the handout (statement, assumptions, sources, errata, captions,
questions) goes through :func:`safe_prose`. A user theorem is code the user chose to run,
but its text must not be able to do more than print: a source holding ``\\input{/etc/passwd}``
or ``\\write18{...}`` is printed as text, never executed, and a plain source with ``_``, ``%``,
``&`` or ``#`` builds.

Outside math, the characters special to TeX are escaped; a short list of harmless text
commands (``\\emph{...}``, ``\\textbf``, ``\\ldots``, escaped specials, spacing) is kept, and
every other command is printed as text. Inside ``$...$``, any command is kept except those
that reach files, the shell or TeX's definitions (``\\input``, ``\\write``, ``\\def``,
``\\catcode``, ``\\csname``, ...) and TeX's ``^^`` character codes, which are printed as text.
"""

from __future__ import annotations

import re

TEXT_COMMANDS = frozenset(
    {"emph", "textbf", "textit", "texttt", "textsf", "textsc", "ldots", "dots", "quad", "qquad", "S", "textsuperscript", "textsubscript", "mbox", "url"}
)
"""Text-mode commands kept outside math: formatting and spacing, nothing that reads, writes or defines."""
_ESCAPED_SYMBOL = re.compile(r"\\[%&#_${} ,;!/\-@]|\\\\")

UNSAFE_COMMANDS = frozenset(
    {
        "input", "include", "includeonly", "InputIfFileExists", "openin", "openout", "closein", "closeout", "read",
        "readline", "write", "immediate", "message", "special", "shipout", "output", "everypar", "everymath",
        "everydisplay", "everyhbox", "everyvbox", "everyjob", "everyeof", "def", "edef", "gdef", "xdef", "let",
        "futurelet", "global", "long", "outer", "protected", "csname", "endcsname", "expandafter", "noexpand",
        "scantokens", "detokenize", "unexpanded", "lowercase", "uppercase", "catcode", "lccode", "uccode", "mathcode",
        "delcode", "sfcode", "uchyph", "endinput", "newcommand", "renewcommand", "providecommand", "DeclareRobustCommand",
        "newenvironment", "renewenvironment", "usepackage", "RequirePackage", "documentclass", "makeatletter",
        "makeatother", "loop", "repeat", "afterassignment", "aftergroup", "jobname", "pdfshellescape", "ShellEscape",
        "directlua", "luaexec", "pdffilesize", "pdfmdfivesum", "font", "batchmode", "errorstopmode",
        "nonstopmode", "scrollmode", "verbatiminput", "lstinputlisting", "includegraphics", "href",
        "hyperref", "pdfobj", "pdfliteral", "pdfstartlink", "tracingonline", "errmessage", "errhelp", "dump", "patterns",
        "hyphenation", "relax", "ifeof", "toks", "the", "number", "romannumeral", "string", "meaning",
    }
)
"""Commands refused inside math: they read or write files, run programs, or change what TeX's
commands and characters mean. ``\\string`` and ``\\the`` are here too: they turn tokens into
text that could be read back as commands."""

_COMMAND = re.compile(r"\\([A-Za-z@]+)\*?|\\(.)", re.DOTALL)


def safe_prose(text: str) -> str:
    r"""LaTeX for theorem text: prose escaped outside ``$...$``, math kept unless it is unsafe.

    >>> safe_prose(r"Hoffmann et al. 2022, section 3 & table A3: 5% of $C_{\min}$")
    'Hoffmann et al. 2022, section 3 \\& table A3: 5\\% of $C_{\\min}$'
    >>> safe_prose(r"see \input{/etc/passwd}")
    'see \\textbackslash{}input{/etc/passwd}'
    >>> safe_prose(r"$x \write18{rm -rf ~} y$")
    '\\$x \\textbackslash{}write18\\{rm -rf \\textasciitilde{}\\} y\\$'
    >>> safe_prose(r"\emph{loose} bound, $O(T^2 d)$")
    '\\emph{loose} bound, $O(T^2 d)$'
    """
    text = str(text)
    parts = _math_split(text)
    if parts is None:  # an unmatched $: nothing is math
        return _escape_prose(text)
    return "".join(_checked_math(p) if is_math else _escape_prose(p) for p, is_math in parts)


def _math_split(text: str) -> list[tuple[str, bool]] | None:
    """Pieces of text with whether each is ``$...$`` math (the dollars included); None if a ``$`` is unmatched."""
    pieces, start, in_math, i = [], 0, False, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "$":
            if in_math:
                pieces.append((text[start : i + 1], True))
                start = i + 1
            else:
                pieces.append((text[start:i], False))
                start = i
            in_math = not in_math
        i += 1
    if in_math:
        return None
    pieces.append((text[start:], False))
    return [(p, m) for p, m in pieces if p]


_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_PATTERN = re.compile("|".join(re.escape(c) for c in _SPECIAL))


def escape_tex(text) -> str:
    r"""Plain text made safe for LaTeX: every character special to TeX printed as itself.

    >>> escape_tex("a_b ~ 5%")
    'a\\_b \\textasciitilde{} 5\\%'
    """
    return _SPECIAL_PATTERN.sub(lambda m: _SPECIAL[m.group()], str(text))


def _escape_prose(text: str) -> str:
    """Escape prose, keeping the harmless text commands and their balanced brace groups."""
    if not _balanced(text):
        return escape_tex(text)
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            symbol = _ESCAPED_SYMBOL.match(text, i)
            if symbol:
                out.append(symbol.group())
                i = symbol.end()
                continue
            command = _COMMAND.match(text, i)
            if command and command.group(1) in TEXT_COMMANDS:
                out.append(command.group())
                i = command.end()
                continue
        out.append(c if c in "{}" else _SPECIAL.get(c, c))
        i += 1
    return "".join(out)


def _checked_math(math: str) -> str:
    """Math as written, unless it holds an unsafe command or a ``^^`` character code: then printed as
    text, dollars included (what the author wrote, not what it would do)."""
    if "^^" in math or not _balanced(math):
        return escape_tex(math)
    names = {m.group(1) for m in _COMMAND.finditer(math) if m.group(1)}
    if names & UNSAFE_COMMANDS or any("@" in name for name in names):
        return escape_tex(math)
    return math


def _balanced(text: str) -> bool:
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth < 0:
            return False
        i += 1
    return depth == 0
