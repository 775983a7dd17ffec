"""What a text rule reports, and the one sentence each rule explains itself with.

Rule names are the stable, machine-readable part: a rejection's reason is `policy.<rule>`, and a
configuration allows a construct by naming its rule.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

LeanRule = Literal[
    "sorry",
    "exit",
    "axiom",
    "unsafe",
    "ffi",
    "native",
    "option",
    "eval",
    "meta",
    "import",
    "syntax",
    "command",
    "open_in",
    "redeclare",
]
CoqRule = Literal[
    "unparsable",
    "sorry",
    "backtrack",
    "axiom",
    "unsafe_flag",
    "side_effect",
    "require",
    "vm",
    "close",
    "shadow",
    "notation",
    "printing",
    "vernacular",
]

EXPLANATIONS: dict[str, str] = {
    "unparsable": "the text cannot be split into sentences (an unterminated comment or string, "
    "or a missing final period)",
    "sorry": "the proof gives up on a goal",
    "exit": "`#exit` stops checking, so later commands (and appended audits) never run",
    "axiom": "the text declares an assumption without proof",
    "unsafe": "`unsafe` code escapes the kernel's type discipline",
    "ffi": "`implemented_by`/`extern` replace a definition by code the kernel never sees",
    "native": "the proof trusts compiled code (`native_decide`, `Lean.ofReduceBool`)",
    "option": "the option weakens checking or lifts the engine's resource bounds",
    "eval": "the text runs code while it is elaborated",
    "meta": "the text uses the metaprogramming or IO API, which can change what the checker "
    "reports",
    "import": "the text imports modules beyond the trusted header",
    "syntax": "the text defines syntax (macro, notation, elaborator) that can change what "
    "later text means",
    "command": "the command is not needed in a proof and can change or hide messages",
    "open_in": "`open … in` right before the theorem can change the meaning of its statement",
    "redeclare": "the text declares the theorem's name again, or not at the top level",
    "backtrack": "the command undoes checked state (Abort, Reset, Back, BackTo, Undo, Restart)",
    "unsafe_flag": "the command switches off a kernel check (guard, positivity, universes) or "
    "rebinds a kernel primitive",
    "side_effect": "the command acts outside the proof (files, plugins, working directory, "
    "the prover process)",
    "require": "the command loads libraries beyond the trusted header",
    "vm": "the proof trusts the bytecode or native compiler (`vm_compute`, casts `<:`, `<<:`)",
    "close": "the proof part closes the engine's theorem itself; what follows is unchecked "
    "vernacular",
    "shadow": "the text redefines a name that the trusted statement uses",
    "notation": "the text declares notation that can change what the statement means or where"
    " Coq ends a sentence",
    "printing": "the command changes how Coq prints beyond the file, where the engine reads "
    "its own audit",
    "vernacular": "only tactic sentences may follow `Proof.`: the engine writes the statement "
    "and `Qed.` itself",
}


class Finding(BaseModel):
    """One place where a text rule matched."""

    model_config = ConfigDict(frozen=True)

    rule: str
    offset: int  # in the text the author wrote
    excerpt: str

    @property
    def reason(self) -> str:
        return f"policy.{self.rule}"

    def sentence(self, line: int) -> str:
        return f"line {line}: {EXPLANATIONS[self.rule]} (`{self.excerpt}`)"
