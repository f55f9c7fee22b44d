"""getopt(3) as FreeBSD's libc has it, once for every emulated binary's command line."""
from __future__ import annotations


class GetOpt:
    """``opts = GetOpt(argv, "d:f:n:")``; ``for c, arg in opts:`` walks getopt(3) over
    ``argv`` (the words after the program name): each option letter with its argument
    (``""`` for a flag), the option's own word rest (``-fFILE``) or else the next word;
    then ``opts.operands`` are the words left. Options end at the first word that is not
    an option, at ``-`` and after ``--``.

    A letter not in the option string (``:`` included) yields ``("?", "illegal option --
    c")``, an option whose argument is missing ``("?", "option requires an argument --
    c")``: getopt's complaint without the program name, for the binary to print (or not)
    and then to stop or go on, as its own ``switch`` does."""

    def __init__(self, argv, optstring: str):
        self.argv = list(argv)
        self.optstring = optstring
        self.optind = 0

    def __iter__(self):
        argv = self.argv
        while self.optind < len(argv):
            word = argv[self.optind]
            if word == "--":
                self.optind += 1
                return
            if not word.startswith("-") or word == "-":
                return
            self.optind += 1
            for j in range(1, len(word)):
                c = word[j]
                k = self.optstring.find(c)
                if c == ":" or k < 0:
                    yield "?", "illegal option -- %s" % c
                elif self.optstring[k + 1:k + 2] != ":":
                    yield c, ""
                else:
                    arg = word[j + 1:]
                    if not arg:
                        if self.optind >= len(argv):
                            yield "?", "option requires an argument -- %s" % c
                            return
                        arg = argv[self.optind]
                        self.optind += 1
                    yield c, arg
                    break

    @property
    def operands(self) -> list:
        return self.argv[self.optind:]

    def given(self, prog: str, err):
        """Every option to its last argument (a ``switch`` that only sets variables), or
        None after printing the first complaint as ``prog: complaint`` (the binary then
        prints its usage)."""
        found = {}
        for c, arg in self:
            if c == "?":
                err.write("%s: %s\n" % (prog, arg))
                return None
            found[c] = arg
        return found
