"""ngctl(8)'s commands that change the graph or talk to a node: usr.sbin/ngctl's mkpeer.c,
connect.c, name.c, rmhook.c, shutdown.c, msg.c and write.c (``EditCommands``, mixed into
``ngsim.ngctl.Ngctl``, whose ``k``, ``sock``, ``kernel`` and ``resolve`` they use).
"""
from __future__ import annotations

from ngsim import kld
from ngsim.errors import NgError, strerror
from ngsim.ngctl_cmds import (CMDRTN_ERROR, CMDRTN_OK, CMDRTN_USAGE, NG_NAMELEN, READONLY_MSGS,
                              WHITESPACE, path_and_three, trunc)


class EditCommands:
    """The graph-changing commands of one ngctl process."""

    def cmd_mkpeer(self, av: list[str]) -> int:
        args = path_and_three(av)
        if args is None:
            return CMDRTN_USAGE
        path, typ, hook, peerhook = args
        typ, hook, peerhook = trunc(typ), trunc(hook), trunc(peerhook)

        def op() -> None:
            if not self.k.type_registered(typ):
                kld.load(self.k, "ng_" + typ)
                if not self.k.type_registered(typ):
                    raise NgError("ENXIO")
            self.k.mkpeer(self.resolve(path), hook, typ, peerhook)

        return self.kernel(op, mutating=True)

    def cmd_connect(self, av: list[str]) -> int:
        args = path_and_three(av)
        if args is None:
            return CMDRTN_USAGE
        path, relpath, hook, peerhook = args
        hook, peerhook = trunc(hook), trunc(peerhook)

        def op() -> None:
            here = self.resolve(path)
            there = self.k.resolve(here, relpath)[0]
            self.k.connect(here, hook, there, peerhook)

        return self.kernel(op, mutating=True)

    def cmd_name(self, av: list[str]) -> int:
        if len(av) != 3:
            return CMDRTN_USAGE
        name = trunc(av[2])
        return self.kernel(lambda: self.k.name_node(self.resolve(av[1]), name), mutating=True)

    def cmd_rmhook(self, av: list[str]) -> int:
        if len(av) == 2:
            path, hook = ".", av[1]
        elif len(av) == 3:
            path, hook = av[1], av[2]
        else:
            return CMDRTN_USAGE
        hook = trunc(hook)
        return self.kernel(lambda: self.k.rmhook(self.resolve(path), hook), mutating=True)

    def cmd_shutdown(self, av: list[str]) -> int:
        if len(av) != 2:
            return CMDRTN_USAGE
        return self.kernel(lambda: self.k.rmnode(self.resolve(av[1])), prefix="shutdown",
                           mutating=True)

    def cmd_msg(self, av: list[str]) -> int:
        if len(av) < 3:
            return CMDRTN_USAGE
        path = av[1]
        buf = " ".join(av[2:])
        i = 0
        while i < NG_NAMELEN and i < len(buf) and buf[i] not in WHITESPACE:
            i += 1
        cmdstr = buf[:i]
        rest = buf[i:].lstrip(WHITESPACE)
        reply: list = []

        def op() -> None:
            node = self.resolve(path)
            cmd = self.k.ntype(node).cmds.get(cmdstr)
            if cmd is None:
                raise NgError("ENOSYS")
            arg = None
            if cmd.argtype is not None:
                arg, _ = cmd.argtype.parse(rest, 0)
            node = self.resolve(path)
            result = cmd.handler(self.k, node, arg)
            if cmd.replytype is not None:
                reply.append((cmd, node["id"], cmd.replytype.unparse(result)))

        rtn = self.kernel(op, mutating=cmdstr not in READONLY_MSGS)
        for cmd, nid, text in reply:
            self.out.write('Rec\'d response "%s" (%d) from "[%x]:":\n' % (cmd.name, cmd.num, nid))
            self.out.write("Args:\t%s\n" % text if text else "No arguments\n")
        return rtn

    def cmd_write(self, av: list[str]) -> int:
        if len(av) < 3:
            return CMDRTN_USAGE
        hook = av[1]
        if self.k.find_hook(self.sock, hook) is None:
            self.warnx('writing to hook "%s": %s' % (hook, strerror("ENOTCONN")))
            return CMDRTN_ERROR
        return CMDRTN_OK
