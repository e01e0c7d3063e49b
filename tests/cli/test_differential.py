"""Differential tests: the same command lines through the real `virsh -c test:///default`
and through pyvirsh must give the same stdout, stderr and exit status.

test:///default keeps its state per process, so every scenario that changes something
runs as ONE invocation, its commands separated by ';' (which both shells accept).
CPU times (wall-clock based in both test drivers) are masked. No scenario is allowed to
differ: where pyvirsh differs from virsh on purpose (help listing only pyvirsh's
commands, -V), that is tested in test_main.py, not here.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import Result, mask, needs_virsh, run_virsh

pytestmark = [pytest.mark.interop, needs_virsh]

T = ["-c", "test:///default"]
U_NET = "dd8fe884-6c02-601e-7551-cca97df1c5df"
U_POOL = "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"

def case(cmd: str, *, opts: list[str] | None = None, id: str | None = None) -> object:
    args = (opts if opts is not None else T) + [cmd]
    return pytest.param(args, id=id or cmd[:60])


SINGLE = [
    case("list --all"), case("list --name"), case("list --uuid"), case("list --id"),
    case("list --title --all"), case("list --inactive"), case("list --name --uuid"),
    case("list --id --name"), case("list --managed-save --all"), case("list --state-running"),
    case("list --state-paused"), case("list --persistent --all"), case("list --transient --all"),
    case("list --autostart --all"), case("list --table --name"),
    case("dominfo test"), case("domstate test"), case("domstate test --reason"),
    case("domid test"), case("domid 6695eb01-f6a4-8304-79aa-97f2502e193f"),
    case("domname 1"), case("domuuid test"), case("domuuid 1"),
    case("nodeinfo"), case("net-list --all"), case("pool-list --all"),
    case("vol-list default-pool"), case("vol-list default-pool --details"),
    case("dumpxml test"), case("dumpxml --inactive test --security-info"),
    case("dumpxml test --xpath //name; dumpxml test --xpath //disk/source/@file; "
         "dumpxml test --xpath //name --wrap; dumpxml test --xpath //nothing",
         id="dumpxml-xpath"),
    case("dumpxml test --xpath 'count(//disk)'", id="dumpxml-xpath-not-nodes"),
    case("version"), case("version --daemon"), case("uri"), case("hostname"),
    case("capabilities"), case("domcapabilities"), case("freecell"), case("freecell --all"),
    case("freecell 1"), case("freecell --cellno 0"), case("freecell --all --cellno 0"),
    case("vcpucount test"), case("vcpucount test --maximum"), case("vcpucount test --live"),
    case("vcpucount test --maximum --active"), case("vcpuinfo test"),
    case("vcpuinfo test --pretty"), case("maxvcpus"), case("maxvcpus --type test"),
    case("net-info default"), case("net-uuid default"), case(f"net-name {U_NET}"),
    case("net-dumpxml default"), case("net-list --name"), case("net-list --uuid"),
    case("net-list --name --uuid"), case("pool-info default-pool"),
    case("pool-info default-pool --bytes"), case("pool-list --details"),
    case("pool-list --all --details"), case("pool-list --name"), case("pool-list --uuid"),
    case("pool-list --name --uuid"), case("pool-list dir"), case("pool-list --type foo"),
    case("pool-list --details --name"), case("pool-uuid default-pool"),
    case(f"pool-name {U_POOL}"), case(f"pool-uuid {U_POOL}"), case("pool-name default-pool"),
    case("pool-dumpxml default-pool"),
    case("event --list"), case("event --all --timeout 1"),
    case("event --loop --timeout 1 --event lifecycle"),
    case("help virsh"), case("help nosuch"), case("help --bogus list extra"),
]

ERRORS = [
    case("dominfo nope"), case("domname test"), case("nosuch"), case("list --nosuch"),
    case("dominfo"), case("dominfo test extra"), case("domstate --reason=x test"),
    case("domstate test --domain"), case("domstate test --domain test"),
    case("domstate -- --reason"), case("domstate 'te'\"st\" --reason"),
    case('domstate "test'), case("domstate test\\"), case("domstate 'test"),
    case("domstate --domain=test; uri #x; # hostname"), case("vol-create-as"),
    case("vol-create-as --help --bogus"), case("domstate --help=3"), case("domstate ''"),
    case("event"), case("event --event foo"), case("event --timeout"),
    case("event --all --timeout abc"), case("event --all --timeout 0"),
    case("event --all --timeout 1 --domain nope"), case("event --all --event lifecycle"),
    case("setmem test abc"), case("setmem test -1"), case("setmem test 1Q"),
    case("setmem test 1G --current --live"), case("freecell --cellno x"),
    case("setvcpus test 0"), case("setvcpus test -1"), case("setvcpus test 2 --maximum"),
    case("vcpucount test --config --live"), case("list -all"),
    case("define /nonexistent"), case("define /tmp"), case("define /etc/hostname"),
    case("create /etc/hostname"), case("save test /tmp/a /tmp/nonexist.xml"),
    case("create /tmp/nonexistent-pyvirsh 3"), case("undefine test x"),
    case("shutdown test foo"), case("shutdown test --mode acpi,bogus"),
    case("reboot test --mode bogus"), case("start test"), case("suspend nope"),
    case("resume test"), case("domrename test t2"), case("console nope"),
    case("net-info nope"), case("net-uuid nope"), case("net-name nope"),
    case("net-list --table --name"), case("pool-info nope"), case("vol-info nope"),
    case("vol-list nope"), case("vol-delete nope --pool default-pool"),
    case("vol-create-as default-pool y 10Q"), case("vol-create-as default-pool z 99999999999999E"),
    case("pool-create data.xml --overwrite --no-overwrite"),
    case("qemu-monitor-command test info"), case("qemu-monitor-command test --hmp --pretty x"),
    case("uri ; hostname", opts=T + ["uri", ";"], id="argv-mode-no-split"),
]

SEQUENCES = [
    case("define foo.xml; list --all; start foo; list; suspend foo; domstate foo --reason; "
         "resume foo; domstate foo --reason; destroy foo; domstate foo --reason; "
         "undefine foo; list --all", id="define-start-suspend-resume-destroy-undefine"),
    case("create foo.xml; list --all; dominfo foo; domid foo; shutdown foo; list --all; "
         "dumpxml foo", id="create-shutdown"),
    case("suspend test; suspend test; domstate test --reason; list --state-paused",
         id="suspend-twice"),
    case("destroy test; start test --paused; domstate --reason test; resume test; "
         "domstate test --reason; list --all", id="destroy-start-paused"),
    case("define foo.xml --validate; create foo.xml --paused; undefine foo; "
         "create foo.xml --autodestroy; restore /nonexistent; autostart foo; undefine test; "
         "list --all --persistent; list --transient --all", id="create-flags-transient"),
    case("autostart test; dominfo test; autostart test --disable; reboot test; reset test; "
         "shutdown test --mode acpi; start test; destroy test --graceful; "
         "domrename test t2; list --all; domrename t2 test; list --all", id="autostart-rename"),
    case("destroy test; setmem test 1G; setmaxmem test 4194304; "
         "setmaxmem test 4194304 --config; setvcpus test 1; setvcpus test 1 --config; "
         "setvcpus test 3 --maximum --config; vcpucount test; vcpucount test --maximum; "
         "vcpucount test --current; vcpucount test --live --active; list --all",
         id="resize-inactive"),
    case("setmem test 1G --live --config"),
    case("setmaxmem test 1G; setmem test 512M; setvcpus test 1; dominfo test; vcpucount test",
         id="resize-active"),
    case("save test /tmp/pyvirsh-diff.save; list --all; restore /tmp/pyvirsh-diff.save; "
         "list; domstate test --reason", id="save-restore"),
    case("save test /tmp/pyvirsh-diff.save --verbose; managedsave nope",
         id="save-verbose-progress"),
    case("managedsave test --verbose; list --all --managed-save; dominfo test"),
    case("managedsave test; list --all --with-managed-save; managedsave-remove test; "
         "managedsave-remove test; managedsave test; start test; domstate test --reason; "
         "managedsave test; start test --force-boot; domstate test --reason; "
         "managedsave test; undefine test; undefine test --managed-save; list --all",
         id="managedsave"),
    case("net-define net2.xml; net-list --all; net-start net2; net-autostart net2; "
         "net-info net2; net-list; net-autostart net2 --disable; net-destroy net2; "
         "net-undefine net2; net-create net2.xml; net-list --all; net-dumpxml net2; "
         "net-destroy net2; net-list --all", id="network-lifecycle"),
    case("net-define net2.xml; net-info net2; net-list --inactive; "
         "net-list --all --persistent --autostart; net-start net2; net-start net2; "
         "net-destroy nope; net-undefine default; net-autostart nope; net-create net2.xml",
         id="network-errors"),
    case(f"net-autostart {U_NET}; net-destroy {U_NET}; net-start {U_NET}; "
         f"net-undefine {U_NET}; suspend 1; resume 6695eb01-f6a4-8304-79aa-97f2502e193f",
         id="names-as-given"),
    case(f"pool-autostart {U_POOL}; pool-refresh {U_POOL}; pool-destroy {U_POOL}; "
         f"pool-start {U_POOL}; pool-destroy {U_POOL}; pool-delete {U_POOL}; "
         f"pool-undefine {U_POOL}; pool-list --all", id="pool-lifecycle-by-uuid"),
    case("pool-create pool2.xml; pool-list --all --details; pool-info p2; pool-refresh p2; "
         "pool-destroy p2; pool-list --all", id="pool-transient"),
    case("pool-create pool2.xml; pool-autostart p2"),
    case("pool-define pool2.xml; pool-list --all; pool-start p2; pool-info p2; pool-destroy p2; "
         "pool-build p2; pool-delete p2; pool-undefine p2; pool-list --all",
         id="pool-lifecycle"),
    case("pool-build default-pool --overwrite --no-overwrite"),
    case("vol-create default-pool vol.xml; vol-create-as default-pool v2.qcow2 1G "
         "--format qcow2 --allocation 512M; vol-create-as default-pool v3 1500; "
         "vol-list default-pool; vol-list default-pool --details; vol-info v1.img default-pool; "
         "vol-info --pool default-pool v2.qcow2; vol-info /default-pool/v3 --bytes; "
         "vol-path v1.img --pool default-pool; vol-key v1.img default-pool; "
         "vol-name /default-pool/v1.img; vol-pool /default-pool/v1.img; "
         "vol-pool /default-pool/v1.img --uuid; vol-dumpxml v1.img default-pool; "
         "vol-dumpxml v1.img default-pool --xpath //capacity; vol-delete v1.img --pool "
         "default-pool; vol-delete v3 default-pool; vol-list default-pool",
         id="volume-lifecycle"),
    case("vol-create-as default-pool x.img 10M --allocation 1M --format qcow2 --print-xml; "
         "vol-create-as default-pool base 1G; vol-create-as default-pool x 10M --backing-vol "
         "base --backing-vol-format raw --print-xml; vol-resize base -- -1M; "
         "vol-info base --physical --pool default-pool; "
         "vol-wipe base --pool default-pool --algorithm foo", id="volume-xml-and-errors"),
    case("vol-create-as default-pool base 1G; vol-resize base 2G --pool default-pool; "
         "vol-wipe base default-pool"),
    case("echo a b \"c d\"; echo --shell \"a b\" x; echo --xml \"<a&b>\"; "
         "echo --split a,b,,c; echo --err hi; cd /tmp; pwd", id="virsh-itself"),
    case("connect test:///default; uri; connect --readonly; suspend test; uri; "
         "connect test:///default extra", id="connect"),
    case("destroy test; undefine test --remove-all-storage", id="undefine-all-storage"),
    case("destroy test; undefine test --storage vda", id="undefine-storage"),
    case("destroy test; undefine test --storage vdb", id="undefine-storage-unknown"),
    case("destroy test; undefine test --storage /guest/diskimage1 --wipe-storage",
         id="undefine-wipe"),
    case("undefine test --wipe-storage; undefine test --delete-snapshots; "
         "undefine test --nvram --keep-nvram; "
         "destroy test; undefine test --remove-all-storage --storage vda",
         id="undefine-option-errors"),
]

GLOBAL = [
    pytest.param(["-c"], id="c-missing"), pytest.param(["--connect"], id="connect-missing"),
    pytest.param(["-d", "x", "uri"], id="debug-bad"),
    pytest.param(["-d", "5", *T, "uri"], id="debug-range"),
    pytest.param(["-k", "-1", "uri"], id="keepalive-bad"),
    pytest.param(["-ctest:///default", "uri"], id="bundled-value"),
    pytest.param(["--connect=test:///default", "--quiet", "uri"], id="long-equals"),
    pytest.param(["-qc", "test:///default", "uri"], id="bundled-flags"),
    pytest.param([*T, "uri", "-q"], id="options-end-at-command"),
    pytest.param([*T, "--co=test:///default", "uri"], id="long-abbreviated"),
    pytest.param(["-x"], id="unknown-short"), pytest.param(["--bogus"], id="unknown-long"),
    pytest.param(["-q", *T, "list; uri; define foo.xml; start foo; suspend foo"], id="quiet"),
    pytest.param(["-r", *T, "suspend test; list"], id="readonly"),
    pytest.param([*T, "domstate", "test", "--reason"], id="argv-mode"),
    pytest.param([*T, "-t", "uri"], id="timing"),
    pytest.param(["-e", "xx", *T, "uri"], id="escape-bad"),
    pytest.param(["-e", "^", *T, "uri"], id="escape-caret"),
    pytest.param(["-e", "^]", *T, "uri"], id="escape-ctrl"),
    pytest.param(["-e", "x", *T, "uri"], id="escape-char"),
    pytest.param(["-k", "0", *T, "uri"], id="keepalive-off"),
    pytest.param(["-k", "5", *T, "uri"], id="keepalive-unsupported"),
    pytest.param(["-K", "2", *T, "uri"], id="keepalive-count-unsupported"),
]


def _same(pyvirsh: Callable[..., Result], args: list[str]) -> None:
    theirs = run_virsh(args)
    ours = pyvirsh(args)
    assert (mask(ours.out), ours.err, ours.rc) == (mask(theirs.out), theirs.err, theirs.rc)


@pytest.mark.parametrize("args", SINGLE)
def test_single(pyvirsh_module: Callable[..., Result], args: list[str]) -> None:
    _same(pyvirsh_module, args)


@pytest.mark.parametrize("args", ERRORS)
def test_errors(pyvirsh_module: Callable[..., Result], args: list[str]) -> None:
    _same(pyvirsh_module, args)


@pytest.mark.parametrize("args", SEQUENCES)
def test_sequence_in_one_process(pyvirsh_module: Callable[..., Result], args: list[str]) -> None:
    _same(pyvirsh_module, args)


@pytest.mark.parametrize("args", GLOBAL)
def test_global_options(pyvirsh_module: Callable[..., Result], args: list[str]) -> None:
    _same(pyvirsh_module, args)


# The installed script runs the same code; a sample from each table proves it behaves so.
ENTRY_POINT_SAMPLE = [SINGLE[0], SINGLE[len(SINGLE) // 2], ERRORS[0], SEQUENCES[0],
                      SEQUENCES[-1], GLOBAL[0]]


@pytest.mark.parametrize("args", ENTRY_POINT_SAMPLE)
def test_entry_point_sample(args: list[str]) -> None:
    from .conftest import _runner
    _same(_runner("entry-point"), args)


def test_version_flag(pyvirsh: Callable[..., Result]) -> None:
    # pyvirt implements libvirt's 9.0.0 API level, which -v reports like virsh's
    for flag in ("-v", "--version", "--version=short"):
        assert pyvirsh([flag]) == run_virsh([flag])


def test_every_command_help_is_virshs(pyvirsh: Callable[..., Result]) -> None:
    """`help CMD` is word for word virsh's for every command pyvirsh has."""
    from pyvirt.cli.options import groups
    names = [c.name for g in groups() for c in g.commands]
    script = "; ".join(f"help {n}" for n in names)
    assert pyvirsh([*T, script]) == run_virsh([*T, script])


def _subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(line in it for line in small)


def test_group_listing_is_a_subset_in_virsh_order(pyvirsh: Callable[..., Result]) -> None:
    # pyvirsh lists only the commands it has, on purpose; each line is virsh's, in order
    for args in ([*T, "help"], [*T, "help domain"], [*T, "help pool"], ["-h"]):
        ours, theirs = pyvirsh(args), run_virsh(args)
        assert ours.rc == theirs.rc == 0 and ours.err == theirs.err == ""
        theirs_lines = theirs.out.replace("virsh [options]", "pyvirsh [options]").splitlines()
        assert _subsequence(ours.out.splitlines(), theirs_lines), args


def test_api_pyvirt_lacks_is_reported_not_faked(pyvirsh: Callable[..., Result]) -> None:
    # virsh prints the test driver's canned sysinfo; pyvirt has no virConnectGetSysinfo
    r = pyvirsh([*T, "sysinfo"])
    assert (r.out, r.err, r.rc) == (
        "\n", ("error: failed to get sysinfo\nerror: this function is not supported by the "
               "connection driver: virConnectGetSysinfo\n"), 1)
    # an inactive domain's vCPU pinning needs virDomainGetVcpuPinInfo
    r = pyvirsh([*T, "destroy test; vcpuinfo test"])
    assert r.err == ("error: this function is not supported by the connection driver: "
                     "virDomainGetVcpuPinInfo\n")
    assert r.rc == 1


def test_unknown_uri_fails_like_virsh(pyvirsh: Callable[..., Result]) -> None:
    # the library's own reason differs (no daemon socket vs no driver), the rest is virsh's
    ours, theirs = pyvirsh(["-c", "bogus:///x", "uri"]), run_virsh(["-c", "bogus:///x", "uri"])
    assert (ours.out, ours.rc) == (theirs.out, theirs.rc) == ("", 1)
    assert ours.err.splitlines()[0] == theirs.err.splitlines()[0] == \
        "error: failed to connect to the hypervisor"
