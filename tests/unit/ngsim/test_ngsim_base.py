"""ng_base model in-process: ID allocation, ID-hash list order with growing mask and rehash
reversal, name hash for `list -n`, names, paths, cascades."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ngsim import kld, state
from ngsim.base import Kernel, decode_idname, hash32_str
from ngsim.errors import NgError
from ngsim.testing import REPO_DIR


@pytest.fixture
def k() -> Kernel:
    st = state.fresh_state([("em0", "ether"), ("em1", "ether")])
    kld.boot(st)
    kern = Kernel(st)
    for mod in ("ng_socket", "ng_hub", "ng_ether", "ng_netflow", "ng_ksocket", "ng_tee"):
        kld.ensure(kern, mod)
    return kern


def ids(k: Kernel) -> list[int]:
    return [n["id"] for n in k.list_order()]


def test_hash32_str_is_djb2():
    assert hash32_str("") == 5381
    assert hash32_str("a") == (5381 * 33 + 97) & 0xFFFFFFFF


def test_decode_idname():
    assert decode_idname("[1a9]") == 0x1A9
    assert decode_idname("[000002aa]") == 0x2AA
    assert decode_idname("[0x5]") == 5
    for bad in ("[0]", "[]", "[xyz]", "1a9", "[1a9", "[ 1]"):
        assert decode_idname(bad) == 0


def test_ids_never_reused_and_bucket_order(k):
    assert ids(k) == [1, 2]
    hubs = [k.make_node_common("hub") for _ in range(3)]  # 3, 4, 5
    k.free_node(hubs[1])
    n = k.make_node_common("hub")
    assert n["id"] == 6
    assert ids(k) == [1, 2, 3, 5, 6]
    # same bucket (mask 15): newest first
    while k.st["next_id"] < 19:
        k.free_node(k.make_node_common("hub"))
    n19 = k.make_node_common("hub")
    assert n19["id"] == 19 and ids(k) == [1, 2, 19, 3, 5, 6]


def test_rehash_grows_mask_when_nodes_double(k):
    # 2 nodes exist; the 8th node makes 8*2 > 15
    for _ in range(5):
        k.make_node_common("hub")
    assert k.st["id_hmask"] == 15
    k.make_node_common("hub")
    assert k.st["id_hmask"] == 31 and len(k.st["nodes"]) == 8


def test_rehash_reverses_nodes_that_stay_together(k):
    # keep IDs 3 and 35 alive (both bucket 3 for mask 15 and for mask 31... no: 35&31 == 3)
    a = k.make_node_common("hub")
    assert a["id"] == 3
    while k.st["next_id"] < 35:
        k.free_node(k.make_node_common("hub"))
    b = k.make_node_common("hub")
    assert b["id"] == 35 and k.st["id_hmask"] == 15
    assert ids(k) == [1, 2, 35, 3]  # newest first within bucket 3
    for _ in range(4):
        k.make_node_common("hub")  # 8 nodes -> rehash to 31
    assert k.st["id_hmask"] == 31
    order = ids(k)
    assert order.index(3) < order.index(35)  # reversed: older first now


def test_name_rules(k):
    em0 = k.find_name("em0")
    with pytest.raises(NgError) as e:
        k.name_node(em0, "em0")
    assert e.value.errno == "EADDRINUSE"
    for bad in ("", "a.b", "a:b", "[12]", "x" * 32):
        with pytest.raises(NgError) as e:
            k.name_node(em0, bad)
        assert e.value.errno == "EINVAL"
    k.name_node(em0, "[0]")  # not a valid ID name, so allowed
    k.name_node(em0, "wan")
    assert k.find_name("[0]") is None and k.find_name("wan") is em0


def test_name_hash_order_for_list_n(k):
    nodes = [k.make_node_common("hub") for _ in range(3)]
    for n, name in zip(nodes, ("b", "a", "c")):
        k.name_node(n, name)
    mask = k.st["name_hmask"]
    order = [n["name"] for n in k.named_order()]
    assert sorted(order, key=lambda s: hash32_str(s) & mask) == order


def test_paths(k):
    em0 = k.find_name("em0")
    nf = k.mkpeer(em0, "lower", "netflow", "iface0")
    assert k.resolve(None, "em0:lower")[0] is nf
    assert k.resolve(None, "em0:lower")[1] == "iface0"
    assert k.resolve(None, "[%x]:" % nf["id"])[0] is nf
    assert k.resolve(em0, "lower")[0] is nf
    assert k.resolve(em0, ".lower.")[0] is nf
    assert k.resolve(em0, ".")[0] is em0
    assert k.resolve(em0, ".:")[0] is em0
    for bad, err in ((":", "EINVAL"), ("a.b:", "EINVAL"), ("em0:a:b", "EINVAL"),
                     ("em0:lower..x", "EINVAL"), ("em0:upper", "ENOENT"), ("x:", "ENOENT")):
        with pytest.raises(NgError) as e:
            k.resolve(em0, bad)
        assert e.value.errno == err, bad


def test_cascade_netflow_ksocket_and_persistent_ether(k):
    em0 = k.find_name("em0")
    nf = k.mkpeer(em0, "lower", "netflow", "iface0")
    k.connect(em0, "upper", nf, "out0")
    ks = k.mkpeer(nf, "export9", "ksocket", "inet/dgram/udp")
    k.name_node(ks, "ks")
    k.rmnode(em0)  # ether: hooks cut, node stays
    assert k.find_name("em0") is em0 and em0["hooks"] == []
    assert [h[0] for h in nf["hooks"]] == ["export9"]  # netflow keeps its export hook
    k.rmnode(nf)
    assert k.node(nf["id"]) is None and k.find_name("ks") is None  # ksocket cascades


def test_hub_removed_when_last_hook_goes(k):
    em0 = k.find_name("em0")
    hub = k.mkpeer(em0, "orphans", "hub", "a")
    k.rmhook(em0, "orphans")
    assert k.node(hub["id"]) is None
    assert k.find_name("em0") is em0  # ether persists after losing last hook


def test_failed_mkpeer_destroys_node_and_keeps_id(k):
    em0 = k.find_name("em0")
    before = k.st["next_id"]
    with pytest.raises(NgError):
        k.mkpeer(em0, "lower", "netflow", "bogus")
    assert k.st["next_id"] == before + 1 and len(k.st["nodes"]) == 2



def scan(node: dict, hook: str):
    """ng_findhook as the C walks it: the first hook of that name in the node's list."""
    return next((h for h in node["hooks"] if h[0] == hook), None)


def test_find_hook_answers_as_a_scan_of_the_hook_list(k):
    """The hook index stays the hook list's answer through links, cuts, cascades and a hook
    list replaced under the kernel (a state read again)."""
    import random

    rng = random.Random(7)
    em0 = k.find_name("em0")
    hub = k.mkpeer(em0, "lower", "hub", "up")
    other = k.mkpeer(em0, "upper", "hub", "up")
    names = ["h%d" % i for i in range(40)] + ["up", "never"]
    seen = 0
    for step in range(400):
        name = rng.choice(names[:40])
        if scan(hub, name) is None and rng.random() < 0.7:
            k.mkpeer(hub, name, "hub", "x") if rng.random() < 0.5 else k.connect(hub, name, other, "e%d" % step)
        elif rng.random() < 0.5:
            k.rmhook(hub, name)
        elif scan(hub, name) is not None and scan(hub, name)[1] != other["id"]:
            k.rmnode(k.node(scan(hub, name)[1]))  # the peer goes, its hook here with it
        if step == 200:  # the same hooks in a new list object: the index is made again
            hub["hooks"] = [list(h) for h in hub["hooks"]]
        for node in (hub, other):
            for n in names + ["e%d" % step]:
                assert k.find_hook(node, n) is scan(node, n), (step, n)
        seen += scan(hub, name) is not None
    assert k.find_hook(hub, "never") is None
    assert 0 < seen < 400 and k.find_hook(em0, "lower") is scan(em0, "lower") is not None  # both answers met


TYPE_NAMES = ["bridge", "eiface", "ether", "hub", "ipfw", "ksocket", "netflow", "one2many",
              "pppoe", "socket", "tee", "vlan"]


def test_types_register_themselves_with_the_base():
    """NETGRAPH_INIT: ng_base imports no type; the kernel linker loads the type modules and
    each registers its type (and the module that carries it). In a fresh interpreter, so
    what importing ngsim.base alone loads is seen."""
    code = textwrap.dedent("""
        import sys
        from ngsim import base, nodetype
        print(sorted(m for m in sys.modules if m.startswith("ngsim.types")), sorted(base.TYPES))
        from ngsim import kld
        print(sorted(nodetype.TYPES), sorted(nodetype.MODULE_TYPES.items()))
        print(all(kld.CATALOG[m][2] == [m] for m in nodetype.MODULE_TYPES))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=REPO_DIR, check=True)
    alone, loaded, catalogued = r.stdout.splitlines()
    assert alone == "[] []"
    assert loaded == "%s %s" % (TYPE_NAMES, sorted(("ng_" + t, [t]) for t in TYPE_NAMES))
    assert catalogued == "True"  # every registering module is a file kldload can load


def test_netgraph_init_refuses_a_second_type_of_a_name():
    from ngsim.nodetype import MODULE_TYPES, TYPES, NodeType, netgraph_init

    hub = TYPES["hub"]
    assert netgraph_init(hub) is hub  # the same type again (a re-import) changes nothing
    assert MODULE_TYPES["ng_hub"] == ["hub"]

    class Other(NodeType):
        name, module = "hub", "ng_hub2"

    with pytest.raises(ValueError):
        netgraph_init(Other())
    assert TYPES["hub"] is hub and "ng_hub2" not in MODULE_TYPES
