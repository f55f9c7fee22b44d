"""ng_base: node IDs, the ID and name hash tables, names, hooks, paths, shutdown cascades.

The kernel state is the JSON dict from ngsim.state; ``Kernel`` wraps it with the
operations of sys/netgraph/ng_base.c. Nodes are dicts
``{"id", "name", "type", "hooks": [[hook, peer_id, peer_hook], ...newest first], "priv"}``.
"""
from __future__ import annotations


from ngsim.errors import NgError
from ngsim.nodetype import TYPES, NodeType

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

NG_NODESIZ = 32
NG_PATHSIZ = 512


def hash32_str(name: str) -> int:
    """FreeBSD hash32_str(name, HASHINIT): djb2, 32-bit."""
    h = 5381
    for c in name.encode("utf-8", "surrogateescape"):
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


def decode_idname(name: str) -> int:
    """ng_decodeidname: ``[hex]`` -> ID, 0 if not a valid ID name."""
    if len(name) < 3 or name[0] != "[" or name[-1] != "]" or name[1] not in "0123456789abcdefABCDEF":
        return 0
    body = name[1:-1]
    if body[:2] in ("0x", "0X"):
        body = body[2:]
    if not body or any(c not in "0123456789abcdefABCDEF" for c in body):
        return 0
    val = int(body, 16)
    if val == 0 or val >= 1 << 64:
        return 0
    return val & 0xFFFFFFFF


class Kernel:
    """Operations on one host's netgraph state."""

    def __init__(self, st: dict[str, Any]):
        self.st = st
        self._closing: set[int] = set()
        # the node at the other end while the second node of a ``connect`` checks its new
        # hook (ng_con_part2 sets hk_peer first: ng_bridge refuses a link to itself, ELOOP)
        self.newhook_peer: Optional[dict] = None
        # node ID -> (that node's hook list, {hook name: hook}): ng_findhook walks the node's
        # hook list, which is linear per lookup and quadratic over a netflow node's 2,000
        # hooks; the index answers the same (the list keeps the order show and list print)
        self._hook_index: dict[int, tuple[list, dict[str, list]]] = {}

    # ----- nodes -------------------------------------------------------
    def node(self, nid: int) -> Optional[dict]:
        return self.st["nodes"].get(str(nid))

    def ntype(self, node: dict) -> NodeType:
        return TYPES[node["type"]]

    def is_valid(self, node: dict) -> bool:
        return str(node["id"]) in self.st["nodes"] and node["id"] not in self._closing

    def type_registered(self, tname: str) -> bool:
        return tname in self.st["types"]

    def make_node_common(self, tname: str) -> dict:
        """Allocate an ID (never reused), grow the ID hash if needed, insert at bucket head."""
        st = self.st
        nid = st["next_id"]
        st["next_id"] = nid + 1
        if (len(st["nodes"]) + 1) * 2 > st["id_hmask"]:
            self._id_rehash()
        st["id_buckets"][nid & st["id_hmask"]].insert(0, nid)
        node = {"id": nid, "name": None, "type": tname, "hooks": [], "priv": {}}
        st["nodes"][str(nid)] = node
        node["priv"] = TYPES[tname].init_priv(self, node)
        return node

    def make_node(self, tname: str) -> dict:
        """ng_make_node: ENXIO if the type is unknown; EINVAL (ID used up) if not creatable."""
        if not self.type_registered(tname):
            raise NgError("ENXIO")
        node = self.make_node_common(tname)
        if not TYPES[tname].constructible:
            self.free_node(node)
            raise NgError("EINVAL")
        return node

    def _id_rehash(self) -> None:
        st = self.st
        old = st["id_buckets"]
        size = (st["id_hmask"] + 1) * 2
        new: list[list[int]] = [[] for _ in range(size)]
        for bucket in old:
            for nid in bucket:
                new[nid % size].insert(0, nid)
        st["id_buckets"] = new
        st["id_hmask"] = size - 1

    def free_node(self, node: dict) -> None:
        """ng_unref_node's last reference: drop from the ID and name hashes."""
        st = self.st
        nid = node["id"]
        if str(nid) not in st["nodes"]:
            return
        if node["name"] is not None:
            self._name_unhash(node)
            st["named"] -= 1
        st["id_buckets"][nid & st["id_hmask"]].remove(nid)
        del st["nodes"][str(nid)]

    def list_order(self) -> list[dict]:
        """Nodes in ID-hash order: bucket 0..hmask, newest first inside a bucket."""
        return [self.node(nid) for bucket in self.st["id_buckets"] for nid in bucket]

    def named_order(self) -> list[dict]:
        """Named nodes in name-hash order (NGM_LISTNAMES)."""
        return [self.node(nid) for bucket in self.st["name_buckets"] for nid in bucket]

    # ----- names -------------------------------------------------------
    def _name_unhash(self, node: dict) -> None:
        st = self.st
        b = hash32_str(node["name"]) & st["name_hmask"]
        st["name_buckets"][b].remove(node["id"])

    def find_name(self, name: str) -> Optional[dict]:
        st = self.st
        for nid in st["name_buckets"][hash32_str(name) & st["name_hmask"]]:
            n = self.node(nid)
            if n is not None and n["name"] == name and n["id"] not in self._closing:
                return n
        return None

    def name_node(self, node: dict, name: str) -> None:
        """ng_name_node: EINVAL for empty/./:/[hex]/too long, EADDRINUSE if taken (even by itself)."""
        if not name or "." in name or ":" in name or len(name.encode()) >= NG_NODESIZ:
            raise NgError("EINVAL")
        if decode_idname(name):
            raise NgError("EINVAL")
        st = self.st
        if st["named"] * 2 > st["name_hmask"]:
            size = (st["name_hmask"] + 1) * 2
            new: list[list[int]] = [[] for _ in range(size)]
            for bucket in st["name_buckets"]:
                for nid in bucket:
                    new[hash32_str(self.node(nid)["name"]) & (size - 1)].insert(0, nid)
            st["name_buckets"] = new
            st["name_hmask"] = size - 1
        if self.find_name(name) is not None:
            raise NgError("EADDRINUSE")
        if node["name"] is not None:
            self._name_unhash(node)
        else:
            st["named"] += 1
        node["name"] = name
        st["name_buckets"][hash32_str(name) & st["name_hmask"]].insert(0, node["id"])

    # ----- hooks -------------------------------------------------------
    def _hooks_by_name(self, node: dict) -> dict[str, list]:
        """The node's hooks by name, the first (newest) of a name as a scan finds it; made
        again if the node's hook list is not the one indexed or has another length."""
        hooks = node["hooks"]
        got = self._hook_index.get(node["id"])
        if got is None or got[0] is not hooks or len(got[1]) != len(hooks):
            index: dict[str, list] = {}
            for h in hooks:
                index.setdefault(h[0], h)
            got = self._hook_index[node["id"]] = (hooks, index)
        return got[1]

    def find_hook(self, node: dict, hook: str) -> Optional[list]:
        """ng_findhook: the node's hook of that name, None if it has none."""
        return self._hooks_by_name(node).get(hook)

    def peer_of(self, node: dict, hook: str) -> Optional[tuple[dict, str]]:
        h = self.find_hook(node, hook)
        if h is None:
            return None
        peer = self.node(h[1])
        return (peer, h[2]) if peer is not None else None

    def _check_newhook(self, node: dict, hook: str) -> None:
        if self.find_hook(node, hook) is not None:
            raise NgError("EEXIST")
        self.ntype(node).newhook(self, node, hook)

    def _link(self, n1: dict, h1: str, n2: dict, h2: str) -> None:
        for node, hook in ((n1, [h1, n2["id"], h2]), (n2, [h2, n1["id"], h1])):
            index = self._hooks_by_name(node)
            node["hooks"].insert(0, hook)
            index[hook[0]] = hook  # newest first, as the list

    def _unlink(self, node: dict, hook: list) -> None:
        """Drop ``hook`` from the node's list and from the index (two hooks of one name,
        which _check_newhook never lets be, leave the index shorter than the list: the
        next lookup makes it again)."""
        index = self._hooks_by_name(node)
        node["hooks"].remove(hook)
        if index.get(hook[0]) is hook:
            del index[hook[0]]

    def destroy_hook(self, node: dict, hook: str) -> None:
        """ng_destroy_hook: cut both ends; the peer, then this node, get a disconnect call."""
        h = self.find_hook(node, hook)
        if h is None:
            return
        self._unlink(node, h)
        peer = self.node(h[1])
        if peer is not None:
            ph = self.find_hook(peer, h[2])
            if ph is not None and ph[1] == node["id"]:
                self._unlink(peer, ph)
                self.ntype(peer).disconnect(self, peer, h[2])
        if self.node(node["id"]) is node:
            self.ntype(node).disconnect(self, node, hook)

    def bypass(self, node: dict, h1: str, h2: str) -> None:
        """ng_bypass: join the peers of two hooks of one node, then drop those hooks."""
        a = self.find_hook(node, h1)
        b = self.find_hook(node, h2)
        if a is None or b is None:
            raise NgError("EINVAL")
        pa, pb = self.node(a[1]), self.node(b[1])
        self._unlink(node, a)
        self._unlink(node, b)
        ha = self.find_hook(pa, a[2])
        hb = self.find_hook(pb, b[2])
        ha[1], ha[2] = pb["id"], b[2]
        hb[1], hb[2] = pa["id"], a[2]

    def rmnode(self, node: dict, really: bool = False) -> None:
        """ng_rmnode: close, cut every hook (peers may cascade), then shut down or persist."""
        nid = node["id"]
        if nid in self._closing or self.node(nid) is not node:
            return
        self._closing.add(nid)
        try:
            t = self.ntype(node)
            t.close(self, node)
            while node["hooks"]:
                self.destroy_hook(node, node["hooks"][0][0])
            if t.shutdown(self, node, really) and not really:
                return
            self.free_node(node)
        finally:
            self._closing.discard(nid)

    # ----- paths -------------------------------------------------------
    def resolve(self, here: Optional[dict], address: str) -> tuple[dict, Optional[str]]:
        """ng_path2noderef: return (node, hook on that node we arrived through, if any)."""
        addr = address[: NG_PATHSIZ - 1]
        nodename: Optional[str]
        if ":" in addr:
            nodename, path = addr.split(":", 1)
            if not nodename:
                raise NgError("EINVAL")
            if nodename != "." and "." in nodename:
                raise NgError("EINVAL")
        else:
            nodename, path = None, addr
        if ":" in path or ".." in path:
            raise NgError("EINVAL")
        if path.startswith("."):
            path = path[1:]
        if path.endswith("."):
            path = path[:-1]
        if nodename is not None:
            node = self._name2node(here, nodename)
            if node is None:
                raise NgError("ENOENT")
        else:
            if here is None:
                raise NgError("EINVAL")
            node = here
        if not path:
            return node, None
        arrived: Optional[str] = None
        for seg in path.split("."):
            p = self.peer_of(node, seg)
            if p is None or not self.is_valid(p[0]):
                raise NgError("ENOENT")
            node, arrived = p
        return node, arrived

    def _name2node(self, here: Optional[dict], name: str) -> Optional[dict]:
        if name == ".":
            return here
        nid = decode_idname(name)
        if nid:
            n = self.node(nid)
            return n if n is not None and n["id"] not in self._closing else None
        return self.find_name(name)

    # ----- generic messages -------------------------------------------
    def mkpeer(self, node: dict, hook: str, peertype: str, peerhook: str) -> dict:
        """ng_mkpeer: create the node (ID used up on any later failure), add both hooks."""
        new = self.make_node(peertype)
        try:
            self._check_newhook(node, hook)
        except NgError:
            self.rmnode(new)
            raise
        try:
            self._check_newhook(new, peerhook)
        except NgError:
            self.rmnode(new)
            # hook1 was added then destroyed: the source type sees a disconnect
            self.ntype(node).disconnect(self, node, hook)
            raise
        self._link(node, hook, new, peerhook)
        self.after_connect(node, hook)
        self.after_connect(new, peerhook)
        return new

    def connect(self, node: dict, hook: str, node2: dict, peerhook: str) -> None:
        """ng_con_nodes: add hook here, then peerhook on node2 (EEXIST / newhook errors)."""
        self._check_newhook(node, hook)
        try:
            if self.find_hook(node2, peerhook) is not None:
                raise NgError("EEXIST")
            if node2 is node and hook == peerhook:
                raise NgError("EEXIST")
            self.newhook_peer = node
            try:
                self.ntype(node2).newhook(self, node2, peerhook)
            finally:
                self.newhook_peer = None
        except NgError:
            self.ntype(node).disconnect(self, node, hook)
            raise
        self._link(node, hook, node2, peerhook)
        self.after_connect(node, hook)
        self.after_connect(node2, peerhook)

    def after_connect(self, node: dict, hook: str) -> None:
        fn = getattr(self.ntype(node), "connected", None)
        if fn is not None:
            fn(self, node, hook)

    def rmhook(self, node: dict, hook: str) -> None:
        """NGM_RMHOOK: a missing hook is a silent success."""
        if self.find_hook(node, hook) is not None:
            self.destroy_hook(node, hook)

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.st["nodes"].values():
            counts[n["type"]] = counts.get(n["type"], 0) + 1
        return counts
