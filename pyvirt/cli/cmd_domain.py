"""Domain lifecycle commands: define, undefine, create, start, shutdown, reboot, reset,
destroy, suspend, resume, autostart, domrename."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from .cmd_dommon import DOMAIN_OPT
from .control import BY_NAME, BY_UUID, CommandFailed, Control
from .options import alias_opt, bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand

if TYPE_CHECKING:
    from .._api import Domain

_DOM = "domain"
_NO_SUPPORT, _INVALID_ARG = int(ErrorNumber.NO_SUPPORT), int(ErrorNumber.INVALID_ARG)

# virDomainCreateFlags
_START_PAUSED, _START_AUTODESTROY, _START_BYPASS_CACHE = 1, 2, 4
_START_FORCE_BOOT, _START_VALIDATE, _START_RESET_NVRAM = 8, 16, 32


def unsupported(func: str) -> libvirtError:
    """The error a driver gives for an API it lacks, for calls pyvirt does not have yet."""
    return error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, func)


def pass_fds(ctl: Control, pc: ParsedCommand, api: str) -> None:
    """--pass-fds N,M: checked as virsh does, then refused: pyvirt has no *WithFiles calls."""
    text = ctl.opt_string(pc, "pass-fds")
    if text is None:
        return
    for item in text.split(","):
        if not item.isdigit():
            raise ctl.fail(f"Unable to parse FD number '{item}'")
    ctl.save_error(unsupported(api))
    raise CommandFailed()


def _console(ctl: Control, dom: Domain, resume: bool) -> bool:
    from .console import run_console
    return run_console(ctl, dom, None, resume, 0)


@command("autostart", group=_DOM, help="autostart a domain",
         desc="Configure a domain to be automatically started at boot.",
         opts=[DOMAIN_OPT, bool_opt("disable", "disable autostarting")])
def cmd_autostart(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    on = not pc.flag("disable")
    verb = "mark" if on else "unmark"
    with ctl.failing(f"Failed to {verb} domain '{name}' as autostarted"):
        dom.set_autostart(on)
    ctl.print_extra(f"Domain '{name}' {verb}ed as autostarted\n")
    return True


@command("create", group=_DOM, help="create a domain from an XML file", desc="Create a domain.",
         opts=[data_opt("file", "file containing an XML domain description"),
               bool_opt("console", "attach to console after creation"),
               bool_opt("paused", "leave the guest paused after creation"),
               bool_opt("autodestroy", "automatically destroy the guest when virsh disconnects"),
               string_opt("pass-fds", "pass file descriptors N,M,... to the guest"),
               bool_opt("validate", "validate the XML against the schema"),
               bool_opt("reset-nvram", "re-initialize NVRAM from its pristine template")])
def cmd_create(ctl: Control, pc: ParsedCommand) -> bool:
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    pass_fds(ctl, pc, "virDomainCreateXMLWithFiles")
    flags = 0
    for name, bit in (("paused", _START_PAUSED), ("autodestroy", _START_AUTODESTROY),
                      ("validate", _START_VALIDATE), ("reset-nvram", _START_RESET_NVRAM)):
        if pc.flag(name):
            flags |= bit
    with ctl.failing(f"Failed to create domain from {path}"):
        dom = ctl.c.create_domain(xml, flags)
    ctl.print_extra(f"Domain '{dom.name}' created from {path}\n")
    if pc.flag("console"):
        # virsh's create succeeds even when the console cannot be attached (start fails)
        try:
            _console(ctl, dom, False)
        except CommandFailed:
            pass
    return True


@command("define", group=_DOM, help="define (but don't start) a domain from an XML file",
         desc="Define a domain.",
         opts=[data_opt("file", "file containing an XML domain description"),
               bool_opt("validate", "validate the XML against the schema")])
def cmd_define(ctl: Control, pc: ParsedCommand) -> bool:
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    flags = 1 if pc.flag("validate") else 0   # VIR_DOMAIN_DEFINE_VALIDATE
    with ctl.failing(f"Failed to define domain from {path}"):
        dom = ctl.c.define_domain(xml, flags)
    ctl.print_extra(f"Domain '{dom.name}' defined from {path}\n")
    return True


@command("destroy", group=_DOM, help="destroy (stop) a domain",
         desc="Forcefully stop a given domain, but leave its resources intact.",
         opts=[DOMAIN_OPT, bool_opt("graceful", "terminate gracefully"),
               bool_opt("remove-logs", "remove domain logs")])
def cmd_destroy(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    flags = (1 if pc.flag("graceful") else 0) | (2 if pc.flag("remove-logs") else 0)
    with ctl.failing(f"Failed to destroy domain '{name}'"):
        dom.destroy(flags)
    ctl.print_extra(f"Domain '{name}' destroyed\n")
    return True


@command("domrename", group=_DOM, help="rename a domain", desc="Rename an inactive domain.",
         opts=[data_opt("domain", "domain name or uuid"),
               data_opt("new-name", "new domain name")])
def cmd_domrename(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc, by=BY_NAME | BY_UUID)
    new_name = ctl.opt_required(pc, "new-name")
    ctl.call(dom.rename, new_name, 0)
    ctl.print_extra("Domain successfully renamed\n")
    return True


_SHUTDOWN_MODES = {"acpi": 1, "agent": 2, "initctl": 4, "signal": 8, "paravirt": 16}


def _modes(ctl: Control, pc: ParsedCommand, expecting: str) -> int:
    mode = ctl.opt_string(pc, "mode")
    flags = 0
    if mode is not None:
        for item in mode.split(","):
            if item not in _SHUTDOWN_MODES:
                raise ctl.fail(f"Unknown mode {item} value, expecting {expecting}")
            flags |= _SHUTDOWN_MODES[item]
    return flags


@command("reboot", group=_DOM, help="reboot a domain",
         desc="Run a reboot command in the target domain.",
         opts=[DOMAIN_OPT, string_opt("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt")])
def cmd_reboot(ctl: Control, pc: ParsedCommand) -> bool:
    # virsh words this list without the comma before 'or' that shutdown's has
    flags = _modes(ctl, pc, "'acpi', 'agent', 'initctl', 'signal' or 'paravirt'")
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    with ctl.failing(f"Failed to reboot domain '{name}'"):
        dom.reboot(flags)
    ctl.print_extra(f"Domain '{name}' is being rebooted\n")
    return True


@command("reset", group=_DOM, help="reset a domain",
         desc="Reset the target domain as if by power button", opts=[DOMAIN_OPT])
def cmd_reset(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    with ctl.failing(f"Failed to reset domain '{name}'"):
        dom.reset(0)
    ctl.print_extra(f"Domain '{name}' was reset\n")
    return True


@command("resume", group=_DOM, help="resume a domain",
         desc="Resume a previously suspended domain.", opts=[DOMAIN_OPT])
def cmd_resume(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    with ctl.failing(f"Failed to resume domain '{name}'"):
        dom.resume()
    ctl.print_extra(f"Domain '{name}' resumed\n")
    return True


@command("shutdown", group=_DOM, help="gracefully shutdown a domain",
         desc="Run shutdown in the target domain.",
         opts=[DOMAIN_OPT, string_opt("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt")])
def cmd_shutdown(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _modes(ctl, pc, "'acpi', 'agent', 'initctl', 'signal', or 'paravirt'")
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    with ctl.failing(f"Failed to shutdown domain '{name}'"):
        dom.shutdown(flags)
    ctl.print_extra(f"Domain '{name}' is being shutdown\n")
    return True


@command("start", group=_DOM, help="start a (previously defined) inactive domain",
         desc="Start a domain, either from the last managedsave\n"
              "    state, or via a fresh boot if no managedsave state\n"
              "    is present.",
         opts=[data_opt("domain", "name of the inactive domain"),
               bool_opt("console", "attach to console after creation"),
               bool_opt("paused", "leave the guest paused after creation"),
               bool_opt("autodestroy", "automatically destroy the guest when virsh disconnects"),
               bool_opt("bypass-cache", "avoid file system cache when loading"),
               bool_opt("force-boot", "force fresh boot by discarding any managed save"),
               string_opt("pass-fds", "pass file descriptors N,M,... to the guest"),
               bool_opt("reset-nvram", "re-initialize NVRAM from its pristine template")])
def cmd_start(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc, by=BY_NAME | BY_UUID)
    if dom.id >= 0:
        raise ctl.fail("Domain is already active")
    pass_fds(ctl, pc, "virDomainCreateWithFiles")
    flags = 0
    resume = False
    if pc.flag("paused"):
        flags |= _START_PAUSED
    elif pc.flag("console"):
        # start paused so no console output is lost, resume once attached
        flags |= _START_PAUSED
        resume = True
    for name, bit in (("autodestroy", _START_AUTODESTROY), ("bypass-cache", _START_BYPASS_CACHE),
                      ("force-boot", _START_FORCE_BOOT), ("reset-nvram", _START_RESET_NVRAM)):
        if pc.flag(name):
            flags |= bit
    started = False
    if flags & _START_FORCE_BOOT:
        try:
            dom.create(flags)
            started = True
        except libvirtError as e:
            if e.code not in (_NO_SUPPORT, _INVALID_ARG):
                ctl.save_error(e)
                return False
            # emulate --force-boot for drivers that reject it: drop the saved state
            try:
                if dom.has_managed_save_image(0):
                    ctl.call(dom.managed_save_remove, 0)
            except libvirtError:
                pass
            flags &= ~_START_FORCE_BOOT
    if not started:
        try:
            dom.create(flags)
        except libvirtError as e:
            if resume and e.code == _INVALID_ARG:
                # the driver cannot start paused: start running, as virsh falls back to
                flags &= ~_START_PAUSED
                resume = False
                with ctl.failing(f"Failed to start domain '{dom.name}'"):
                    dom.create(flags)
            else:
                ctl.save_error(e)
                raise ctl.fail(f"Failed to start domain '{dom.name}'") from None
    ctl.print_extra(f"Domain '{dom.name}' started\n")
    if pc.flag("console"):
        return _console(ctl, dom, resume)
    return True


@command("suspend", group=_DOM, help="suspend a domain", desc="Suspend a running domain.",
         opts=[DOMAIN_OPT])
def cmd_suspend(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    with ctl.failing(f"Failed to suspend domain '{name}'"):
        dom.suspend()
    ctl.print_extra(f"Domain '{name}' suspended\n")
    return True


# virDomainUndefineFlagsValues
_UNDEF_MANAGED_SAVE, _UNDEF_SNAPSHOTS, _UNDEF_NVRAM, _UNDEF_KEEP_NVRAM = 1, 2, 4, 8
_UNDEF_CHECKPOINTS, _UNDEF_TPM, _UNDEF_KEEP_TPM = 16, 32, 64
_SNAPSHOT_LIST_METADATA = 2


def _count(ctl: Control, fn: Any, *args: Any) -> int:
    """A count from the API, 0 when the driver cannot say (virsh ignores NO_SUPPORT)."""
    try:
        return int(fn(*args))
    except libvirtError as e:
        if e.code != _NO_SUPPORT:
            ctl.save_error(e)
            raise CommandFailed() from None
        return 0


@command("undefine", group=_DOM, help="undefine a domain",
         desc="Undefine an inactive domain, or convert persistent to transient.", opts=[
             DOMAIN_OPT,
             bool_opt("managed-save", "remove domain managed state file"),
             string_opt("storage", "remove associated storage volumes (comma separated list "
                                   "of targets or source paths) (see domblklist)"),
             bool_opt("remove-all-storage", "remove all associated storage volumes (use with "
                                            "caution)"),
             alias_opt("delete-snapshots", "delete-storage-volume-snapshots"),
             bool_opt("delete-storage-volume-snapshots", "delete snapshots associated with "
                      "volume(s), requires --remove-all-storage (must be supported by storage "
                      "driver)"),
             bool_opt("wipe-storage", "wipe data on the removed volumes"),
             bool_opt("snapshots-metadata", "remove all domain snapshot metadata (vm must be "
                                            "inactive)"),
             bool_opt("checkpoints-metadata", "remove all domain checkpoint metadata (vm must "
                                              "be inactive)"),
             bool_opt("nvram", "remove nvram file"),
             bool_opt("keep-nvram", "keep nvram file"),
             bool_opt("tpm", "remove TPM state"),
             bool_opt("keep-tpm", "keep TPM state")])
def cmd_undefine(ctl: Control, pc: ParsedCommand) -> bool:
    from .undefine_storage import collect_volumes, remove_volumes
    ctl.requires(pc, "delete-storage-volume-snapshots", "remove-all-storage")
    ctl.exclusive(pc, "nvram", "keep-nvram")
    ctl.exclusive(pc, "tpm", "keep-tpm")
    vol_string = pc.string("storage") or None
    remove_all = pc.flag("remove-all-storage")
    wipe = pc.flag("wipe-storage")
    if not (vol_string or remove_all) and wipe:
        raise ctl.fail("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'")
    managed_save, snapshots_metadata = pc.flag("managed-save"), pc.flag("snapshots-metadata")
    flags = 0
    for name, bit in (("managed-save", _UNDEF_MANAGED_SAVE),
                      ("snapshots-metadata", _UNDEF_SNAPSHOTS),
                      ("checkpoints-metadata", _UNDEF_CHECKPOINTS), ("nvram", _UNDEF_NVRAM),
                      ("keep-nvram", _UNDEF_KEEP_NVRAM), ("tpm", _UNDEF_TPM),
                      ("keep-tpm", _UNDEF_KEEP_TPM)):
        if pc.flag(name):
            flags |= bit
    managed_save_safe, snapshots_safe = managed_save, snapshots_metadata
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    running = ctl.call(dom.is_active)
    has_managed_save = has_snapshots = has_snapshots_metadata = 0
    if not running:
        # only inactive domains can have a managed save or block undefine with snapshots
        has_managed_save = _count(ctl, dom.has_managed_save_image, 0)
        has_snapshots = _count(ctl, dom.snapshot_num, 0)
        if has_snapshots:
            try:
                has_snapshots_metadata = int(dom.snapshot_num(_SNAPSHOT_LIST_METADATA))
                managed_save_safe = snapshots_safe = True
            except libvirtError:
                has_snapshots_metadata = has_snapshots
    if not has_managed_save:
        flags &= ~_UNDEF_MANAGED_SAVE
        managed_save_safe = True
    if has_snapshots == 0:
        snapshots_safe = True
    if has_snapshots_metadata == 0:
        flags &= ~_UNDEF_SNAPSHOTS
        snapshots_safe = True
    vols = collect_volumes(ctl, dom, running, vol_string, remove_all) \
        if (vol_string or remove_all) else []

    done = False
    if (managed_save_safe and snapshots_safe) or pc.flag("nvram"):
        try:
            dom.undefine(flags)
            done = True
        except libvirtError as e:
            if pc.flag("nvram") or e.code not in (_NO_SUPPORT, _INVALID_ARG):
                ctl.save_error(e)
                raise ctl.fail(f"Failed to undefine domain '{name}'") from None
    if not done:
        # the flags API is unsupported or unsafe here: do it piecewise
        if has_managed_save:
            if not managed_save:
                raise ctl.fail("Refusing to undefine while domain managed save image exists")
            try:
                dom.managed_save_remove(0)
            except libvirtError as e:
                ctl.save_error(e)
                ctl.report_error()
                return False
        if has_snapshots_metadata:
            if snapshots_metadata:
                raise ctl.fail(f"Unable to remove metadata of {has_snapshots_metadata} snapshots")
            raise ctl.fail(f"Refusing to undefine while {has_snapshots_metadata} snapshots exist")
        with ctl.failing(f"Failed to undefine domain '{name}'"):
            dom.undefine(0)
    ctl.print_extra(f"Domain '{name}' has been undefined\n")
    return remove_volumes(ctl, vols, wipe, pc.flag("delete-storage-volume-snapshots"))
