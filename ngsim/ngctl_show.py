"""ngctl(8)'s commands that read the graph: usr.sbin/ngctl's list.c, show.c, types.c, dot.c,
status.c and config.c (``ShowCommands``, mixed into ``ngsim.ngctl.Ngctl``, whose ``k``,
``out``, ``kernel`` and ``resolve`` they use).
"""
from __future__ import annotations

from ngsim.ngctl_cmds import (CMDRTN_ERROR, CMDRTN_OK, CMDRTN_USAGE, HOOK_FMT, LIST_FMT, UNNAMED,
                              getopt_flags, oserr)


class ShowCommands:
    """The reading commands of one ngctl process."""

    def show_node(self, node: dict, hooks: bool = True) -> None:
        self.out.write(LIST_FMT % (node["name"] or UNNAMED, node["type"], node["id"],
                                   len(node["hooks"])))
        if not hooks or not node["hooks"]:
            return
        self.out.write(HOOK_FMT % ("Local hook", "Peer name", "Peer type", "Peer ID", "Peer hook"))
        self.out.write(HOOK_FMT % ("----------", "---------", "---------", "-------", "---------"))
        for hook, pid, phook in node["hooks"]:
            peer = self.k.node(pid)
            self.out.write(HOOK_FMT % (hook, peer["name"] or UNNAMED, peer["type"],
                                       "%08x" % pid, phook))

    def cmd_show(self, av: list[str]) -> int:
        opts, rest, bad = getopt_flags(av[1:], "n")
        if bad or len(rest) != 1:
            return CMDRTN_USAGE
        found: list = []
        rtn = self.kernel(lambda: found.append(self.resolve(rest[0])))
        if rtn == CMDRTN_OK:
            self.show_node(found[0], hooks="n" not in opts)
        return rtn

    def cmd_list(self, av: list[str]) -> int:
        opts, rest, bad = getopt_flags(av[1:], "ln")
        if bad or rest:
            return CMDRTN_USAGE
        named = "n" in opts
        nodes = self.k.named_order() if named else self.k.list_order()
        self.out.write("There are %d total %snodes:\n" % (len(nodes), "named " if named else ""))
        for i, node in enumerate(nodes):
            if "l" in opts:
                self.show_node(node)
                if i < len(nodes) - 1:
                    self.out.write("\n")
            else:
                self.out.write(LIST_FMT % (node["name"] or UNNAMED, node["type"], node["id"],
                                           len(node["hooks"])))
        return CMDRTN_OK

    def cmd_types(self, av: list[str]) -> int:
        if len(av) != 1:
            return CMDRTN_USAGE
        types = self.k.st["types"]
        counts = self.k.type_counts()
        self.out.write("There are %d total types:\n" % len(types))
        if types:
            self.out.write("%15s   Number of living nodes\n" % "Type name")
            self.out.write("%15s   ----------------------\n" % "---------")
        for t in types:
            self.out.write("%15s   %5d\n" % (t, counts.get(t, 0)))
        return CMDRTN_OK

    def _text_msg(self, av: list[str], what: str) -> int:
        found: list = []
        rtn = self.kernel(lambda: found.append(self.resolve(av[1])))
        if rtn == CMDRTN_OK:
            self.out.write('No %s available for "%s"\n' % (what, av[1]))
        return rtn

    def cmd_status(self, av: list[str]) -> int:
        if len(av) != 2:
            return CMDRTN_USAGE
        return self._text_msg(av, "status")

    def cmd_config(self, av: list[str]) -> int:
        if len(av) < 2:
            return CMDRTN_USAGE
        return self._text_msg(av, "config")

    def cmd_dot(self, av: list[str]) -> int:
        if len(av) > 2:
            return CMDRTN_USAGE
        text = self.dot_text()
        if len(av) == 2:
            try:
                with open(av[1], "w", encoding="utf-8") as f:
                    f.write(text)
            except OSError as e:
                self.warnx("Could not open %s for writing: %s" % (av[1], oserr(e)))
                return CMDRTN_ERROR
        else:
            self.out.write(text)
        return CMDRTN_OK

    def dot_text(self) -> str:
        nodes = self.k.list_order()
        o = ["graph netgraph {\n", "\tedge [ weight = 1.0 ];\n",
             "\tnode [ shape = record, fontsize = 12 ] {\n"]
        for n in nodes:
            name = n["name"] if n["name"] else "\\<unnamed\\>"
            o.append('\t\t"%x" [ label = "{%s:|{%s|[%x]:}}" ];\n' % (n["id"], name, n["type"], n["id"]))
        o.append("\t};\n")
        o.append("\tsubgraph cluster_disconnected {\n\t\tbgcolor = pink;\n")
        for n in nodes:
            if not n["hooks"]:
                o.append('\t\t"%x";\n' % n["id"])
        o.append("\t};\n")
        for n in nodes:
            if not n["hooks"]:
                continue
            nid = n["id"]
            o.append("\tnode [ shape = octagon, fontsize = 10 ] {\n")
            for h in n["hooks"]:
                o.append('\t\t"%x.%s" [ label = "%s" ];\n' % (nid, h[0], h[0]))
            o.append("\t};\n\t{\n\t\tedge [ weight = 2.0, style = bold ];\n")
            for h in n["hooks"]:
                o.append('\t\t"%x" -- "%x.%s";\n' % (nid, nid, h[0]))
            o.append("\t};\n")
            for h in n["hooks"]:
                if h[1] <= nid:
                    o.append('\t"%x.%s" -- "%x.%s";\n' % (nid, h[0], h[1], h[2]))
        o.append("}\n")
        return "".join(o)
