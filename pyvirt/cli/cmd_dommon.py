"""Domain monitoring commands: list, dominfo, domstate, domid, domname, domuuid, dumpxml."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import libvirtError
from .control import BY_ID, BY_NAME, BY_UUID, Control
from .fmt import Table, kv
from .names import domain_state, domain_state_reason
from .options import bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand
from .xmlout import XMLSyntaxError, dump_xml, parse_xml

if TYPE_CHECKING:
    from .._api import Domain

_MON, _DOM = "monitor", "domain"
DOMAIN_OPT = data_opt("domain", "domain name, id or uuid")

# virConnectListAllDomainsFlags (libvirt's values)
_ACTIVE, _INACTIVE, _PERSISTENT, _TRANSIENT = 1, 2, 4, 8
_RUNNING, _PAUSED, _SHUTOFF, _OTHER = 16, 32, 64, 128
_MANAGEDSAVE, _NO_MANAGEDSAVE, _AUTOSTART, _NO_AUTOSTART = 256, 512, 1024, 2048
_HAS_SNAPSHOT, _NO_SNAPSHOT, _HAS_CHECKPOINT, _NO_CHECKPOINT = 4096, 8192, 16384, 32768
_UINT_MAX = 2**32 - 1
_NO_SUPPORT, _INVALID_ARG = 3, 8


def domain_state_of(ctl: Control, dom: Domain) -> tuple[int, int]:
    """(state, reason) of a domain (virshDomainState)."""
    st = ctl.call(dom.state, 0)
    return int(st.state), int(st.reason)


def _want(flags: int, group: int, mask: int) -> bool:
    return bool(flags & mask) or not flags & group


def _filter(ctl: Control, doms: list[Any], flags: int) -> list[Any]:
    """Apply the filters a server that ignores them would not (virshDomainListCollect)."""
    kept = []
    for dom in doms:
        if flags & (_PERSISTENT | _TRANSIENT):
            persistent = ctl.call(dom.is_persistent)
            if not ((flags & _PERSISTENT and persistent) or (flags & _TRANSIENT and not persistent)):
                continue
        if flags & (_RUNNING | _PAUSED | _SHUTOFF | _OTHER):
            state = int(ctl.call(dom.state, 0).state)
            if not ((flags & _RUNNING and state == 1) or (flags & _PAUSED and state == 3)
                    or (flags & _SHUTOFF and state == 5)
                    or (flags & _OTHER and state not in (1, 3, 5))):
                continue
        if flags & (_AUTOSTART | _NO_AUTOSTART):
            auto = ctl.call(dom.autostart)
            if not ((flags & _AUTOSTART and auto) or (flags & _NO_AUTOSTART and not auto)):
                continue
        if flags & (_MANAGEDSAVE | _NO_MANAGEDSAVE):
            saved = ctl.call(dom.has_managed_save_image, 0)
            if not ((flags & _MANAGEDSAVE and saved) or (flags & _NO_MANAGEDSAVE and not saved)):
                continue
        if flags & (_HAS_SNAPSHOT | _NO_SNAPSHOT):
            n = ctl.call(dom.snapshot_num, 0)
            if not ((flags & _HAS_SNAPSHOT and n > 0) or (flags & _NO_SNAPSHOT and n == 0)):
                continue
        if flags & (_HAS_CHECKPOINT | _NO_CHECKPOINT):
            raise ctl.fail("Failed to get checkpoint count")
        kept.append(dom)
    return kept


def _old_style(ctl: Control, flags: int) -> list[Any]:
    """Domains from the pre-0.9.13 calls: running IDs, then defined names."""
    c = ctl.c
    doms = []
    try:
        if not flags & (_ACTIVE | _INACTIVE) or flags & _ACTIVE:
            for ident in c.list_domain_ids():
                try:
                    doms.append(c.lookup_domain_by_id(ident))
                except libvirtError:
                    continue  # gone meanwhile
        if not flags & (_ACTIVE | _INACTIVE) or flags & _INACTIVE:
            for name in c.list_defined_domains():
                try:
                    doms.append(c.lookup_domain_by_name(name))
                except libvirtError:
                    continue
    except libvirtError as e:
        ctl.save_error(e)
        which = "active" if flags & _ACTIVE else "inactive"
        raise ctl.fail(f"Failed to list {which} domains") from None
    return doms


def collect_domains(ctl: Control, flags: int) -> list[Any]:
    """The domains matching `flags`, running ones by ID then the others by name
    (virshDomainListCollect, with its fallbacks for drivers that lack the filters)."""
    try:
        doms = list(ctl.c.list_all_domains(flags))
    except libvirtError as e:
        ctl.reset_error()
        if e.code == _NO_SUPPORT:
            doms = _filter(ctl, _old_style(ctl, flags), flags)
        elif e.code == _INVALID_ARG:
            # a driver that does not know some filter: ask for less, filter here
            try:
                doms = list(ctl.c.list_all_domains(flags & (_ACTIVE | _INACTIVE)))
            except libvirtError as e2:
                ctl.save_error(e2)
                raise ctl.fail("Failed to list domains") from None
            doms = _filter(ctl, doms, flags)
        else:
            ctl.save_error(e)
            raise ctl.fail("Failed to list domains") from None

    def key(dom: Any) -> tuple[int, int, str]:
        return (0, dom.id, "") if dom.id >= 0 else (1, 0, dom.name.casefold())

    return sorted(doms, key=key)


def _title(ctl: Control, dom: Domain) -> str:
    """A domain's <title> (pyvirt has no metadata call; virsh falls back to the XML too)."""
    xml = ctl.call(dom.xml_desc, 0)
    try:
        root = parse_xml(xml)
    except XMLSyntaxError as e:
        raise ctl.fail(f"XML error: {e}") from None
    return str(root.xpath("string(./title[1])"))


_LIST_FILTERS = [("persistent", _PERSISTENT), ("transient", _TRANSIENT),
                 ("with-managed-save", _MANAGEDSAVE), ("without-managed-save", _NO_MANAGEDSAVE),
                 ("autostart", _AUTOSTART), ("no-autostart", _NO_AUTOSTART),
                 ("with-snapshot", _HAS_SNAPSHOT), ("without-snapshot", _NO_SNAPSHOT),
                 ("with-checkpoint", _HAS_CHECKPOINT), ("without-checkpoint", _NO_CHECKPOINT),
                 ("state-running", _RUNNING), ("state-paused", _PAUSED),
                 ("state-shutoff", _SHUTOFF), ("state-other", _OTHER)]


@command("list", group=_MON, help="list domains", desc="Returns list of domains.", opts=[
    bool_opt("inactive", "list inactive domains"),
    bool_opt("all", "list inactive & active domains"),
    bool_opt("transient", "list transient domains"),
    bool_opt("persistent", "list persistent domains"),
    bool_opt("with-snapshot", "list domains with existing snapshot"),
    bool_opt("without-snapshot", "list domains without a snapshot"),
    bool_opt("with-checkpoint", "list domains with existing checkpoint"),
    bool_opt("without-checkpoint", "list domains without a checkpoint"),
    bool_opt("state-running", "list domains in running state"),
    bool_opt("state-paused", "list domains in paused state"),
    bool_opt("state-shutoff", "list domains in shutoff state"),
    bool_opt("state-other", "list domains in other states"),
    bool_opt("autostart", "list domains with autostart enabled"),
    bool_opt("no-autostart", "list domains with autostart disabled"),
    bool_opt("with-managed-save", "list domains with managed save state"),
    bool_opt("without-managed-save", "list domains without managed save"),
    bool_opt("uuid", "list uuid's only"),
    bool_opt("name", "list domain names only"),
    bool_opt("id", "list domain IDs only"),
    bool_opt("table", "list table (default)"),
    bool_opt("managed-save", "mark inactive domains with managed save state"),
    bool_opt("title", "show domain title")])
def cmd_list(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _ACTIVE
    if pc.flag("inactive") or pc.flag("state-shutoff"):
        flags = _INACTIVE
    if pc.flag("all"):
        flags = _INACTIVE | _ACTIVE
    for name, bit in _LIST_FILTERS:
        if pc.flag(name):
            flags |= bit
    ctl.exclusive(pc, "table", "name")
    ctl.exclusive(pc, "table", "id")
    opt_uuid, opt_name, opt_id = pc.flag("uuid"), pc.flag("name"), pc.flag("id")
    opt_title, managed = pc.flag("title"), pc.flag("managed-save")
    opt_table = pc.flag("table") or not (opt_uuid or opt_name or opt_id)

    doms = collect_domains(ctl, flags)
    columns = ["Id", "Name", "State"]
    if opt_title:
        columns.append("Title")
    if opt_uuid:
        columns.append("UUID")
    table = Table(*columns) if opt_table else None
    for dom in doms:
        id_text = str(dom.id) if dom.id >= 0 else "-"
        if table is not None:
            try:
                state = int(dom.state(0).state)
            except libvirtError:
                continue  # the domain went away meanwhile
            if managed and state == 5 and ctl.call(dom.has_managed_save_image, 0):
                state_text = "saved"
            else:
                state_text = domain_state(state)
            extra = []
            if opt_title:
                extra.append(_title(ctl, dom))
            if opt_uuid:
                extra.append(dom.uuid_string)
            table.add(id_text, dom.name, state_text, *extra)
            continue
        words = []
        if opt_uuid:
            words.append(dom.uuid_string)
        if opt_id:
            # with --id alone, only running domains have something to print
            if dom.id < 0 and not opt_uuid and not opt_name:
                continue
            words.append(id_text)
        if opt_name:
            words.append(dom.name)
        ctl.print(" ".join(words) + "\n")
    if table is not None:
        ctl.print(table.render(header=not ctl.quiet))
    return True


@command("dominfo", group=_MON, help="domain information",
         desc="Returns basic information about the domain.", opts=[DOMAIN_OPT])
def cmd_dominfo(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    ok = True
    ctl.print(kv("Id:", dom.id if dom.id >= 0 else "-"))
    ctl.print(kv("Name:", dom.name))
    ctl.print(kv("UUID:", dom.uuid_string))
    try:
        ctl.print(kv("OS Type:", dom.os_type()))
    except libvirtError as e:
        ctl.save_error(e)
    try:
        info = dom.info()
    except libvirtError as e:
        ctl.save_error(e)
        ok = False
    else:
        ctl.print(kv("State:", domain_state(info.state)))
        ctl.print(kv("CPU(s):", info.nr_virt_cpu))
        if info.cpu_time != 0:
            ctl.print(kv("CPU time:", f"{info.cpu_time / 1000000000.0:.1f}s"))
        if info.max_mem != _UINT_MAX:
            ctl.print(kv("Max memory:", f"{info.max_mem} KiB"))
        else:
            ctl.print(kv("Max memory:", "no limit"))
        ctl.print(kv("Used memory:", f"{info.memory} KiB"))
    try:
        persistent = "yes" if dom.is_persistent() else "no"
    except libvirtError:
        persistent = "unknown"
    ctl.print(kv("Persistent:", persistent))
    try:
        ctl.print(kv("Autostart:", "enable" if dom.autostart() else "disable"))
    except libvirtError:
        pass
    try:
        saved = "yes" if dom.has_managed_save_image(0) else "no"
    except libvirtError:
        saved = "unknown"
    ctl.print(kv("Managed save:", saved))
    try:
        model = ctl.c.get_security_model()
    except libvirtError as e:
        if e.code != _NO_SUPPORT:
            ctl.save_error(e)
            return False
    else:
        if model.model:
            ctl.print(kv("Security model:", model.model))
            ctl.print(kv("Security DOI:", model.doi))
            label = ctl.call(dom.security_label)
            if label.label:
                enforcing = "enforcing" if label.enforcing else "permissive"
                ctl.print(kv("Security label:", f"{label.label} ({enforcing})"))
    try:
        messages = dom.messages(0)
    except libvirtError:
        messages = []
    for i, message in enumerate(messages):
        ctl.print(kv("Messages:" if i == 0 else "", message))
    return ok


@command("domstate", group=_MON, help="domain state", desc="Returns state about a domain.",
         opts=[DOMAIN_OPT, bool_opt("reason", "also print reason for the state")])
def cmd_domstate(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    state, reason = domain_state_of(ctl, dom)
    if pc.flag("reason"):
        ctl.print(f"{domain_state(state)} ({domain_state_reason(state, reason)})\n")
    else:
        ctl.print(f"{domain_state(state)}\n")
    return True


@command("domid", group=_DOM, help="convert a domain name or UUID to domain id",
         opts=[data_opt("domain", "domain name or uuid")])
def cmd_domid(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc, by=BY_NAME | BY_UUID)
    ctl.print(f"{dom.id if dom.id >= 0 else '-'}\n")
    return True


@command("domname", group=_DOM, help="convert a domain id or UUID to domain name",
         opts=[data_opt("domain", "domain id or uuid")])
def cmd_domname(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc, by=BY_ID | BY_UUID)
    ctl.print(f"{dom.name}\n")
    return True


@command("domuuid", group=_DOM, help="convert a domain name or id to domain UUID",
         opts=[data_opt("domain", "domain id or name")])
def cmd_domuuid(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc, by=BY_ID | BY_NAME)
    ctl.print(f"{dom.uuid_string}\n")
    return True


# virDomainXMLFlags
_XML_SECURE, _XML_INACTIVE, _XML_UPDATE_CPU, _XML_MIGRATABLE = 1, 2, 4, 8


@command("dumpxml", group=_DOM, help="domain information in XML",
         desc="Output the domain information as an XML dump to stdout.", opts=[
             DOMAIN_OPT,
             bool_opt("inactive", "show inactive defined XML"),
             bool_opt("security-info", "include security sensitive information in XML dump"),
             bool_opt("update-cpu", "update guest CPU according to host CPU"),
             bool_opt("migratable", "provide XML suitable for migrations"),
             string_opt("xpath", "xpath expression to filter the XML document",
                        named_only=True),
             bool_opt("wrap", "wrap xpath results in an common root element")])
def cmd_dumpxml(ctl: Control, pc: ParsedCommand) -> bool:
    flags = 0
    for name, bit in (("inactive", _XML_INACTIVE), ("security-info", _XML_SECURE),
                      ("update-cpu", _XML_UPDATE_CPU), ("migratable", _XML_MIGRATABLE)):
        if pc.flag(name):
            flags |= bit
    dom = ctl.domain(pc)
    xpath = pc.string("xpath") or None
    xml = ctl.call(dom.xml_desc, flags)
    return dump_xml(ctl, xml, xpath, pc.flag("wrap"))
