"""Saving and restoring domain state: save, restore, managedsave, managedsave-remove,
with the progress display long jobs get (--verbose), and domjobinfo."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import libvirtError
from .cmd_domain import unsupported
from .cmd_dommon import DOMAIN_OPT
from .control import Control
from .fmt import c_double, pretty_capacity
from .options import bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand

if TYPE_CHECKING:
    from .._api import Domain

__all__ = ["progress_text", "watch_job"]

_DOM = "domain"
# virDomainSaveRestoreFlags
_BYPASS_CACHE, _RUNNING, _PAUSED, _RESET_NVRAM = 1, 2, 4, 8
POLL_SECONDS = 0.5   # virsh polls the job every 500 ms


def progress_text(label: str, remaining: int, total: int) -> str:
    """'\\rSave: [ 42 %]' (virshPrintJobProgress in libvirt 9.0); never 100 until done."""
    if remaining == 0:
        percent = 100
    else:
        percent = int(100.0 - remaining * 100.0 / total)
        if percent >= 100:
            percent = 99
    return f"\r{label}: [{percent:3d} %]"


def _progress(ctl: Control, label: str, remaining: int, total: int) -> None:
    ctl.flush()
    ctl.err.write(progress_text(label, remaining, total))
    ctl.err.flush()


def watch_job(ctl: Control, dom: Domain, verbose: bool, label: str,
              work: Callable[[], None]) -> libvirtError | None:
    """Run `work` in a thread; meanwhile poll the domain's job and, with `verbose`, show
    its progress on stderr (virshWatchJob). Returns the error `work` raised, if any."""
    outcome: list[libvirtError] = []
    finished = threading.Event()

    def worker() -> None:
        try:
            work()
        except libvirtError as e:
            outcome.append(e)
        finally:
            finished.set()

    thread = threading.Thread(target=worker, name=f"pyvirsh-{label.lower()}", daemon=True)
    thread.start()
    while True:
        try:
            if finished.wait(POLL_SECONDS):
                break
        except KeyboardInterrupt:
            # virsh aborts the job here; pyvirt has no abort-job call yet, so keep waiting
            # rather than leave a half-finished save behind
            continue
        try:
            info = dom.job_info()
        except libvirtError:
            continue
        if verbose and info.data_total > 0:
            _progress(ctl, label, info.data_remaining, info.data_total)
    thread.join()
    if not outcome and verbose:
        _progress(ctl, label, 0, 1)
    return outcome[0] if outcome else None


def _save_flags(pc: ParsedCommand) -> int:
    flags = 0
    for name, bit in (("bypass-cache", _BYPASS_CACHE), ("running", _RUNNING),
                      ("paused", _PAUSED)):
        if pc.flag(name):
            flags |= bit
    return flags


@command("save", group=_DOM, help="save a domain state to a file",
         desc="Save the RAM state of a running domain.",
         opts=[DOMAIN_OPT, data_opt("file", "where to save the data"),
               bool_opt("bypass-cache", "avoid file system cache when saving"),
               string_opt("xml", "filename containing updated XML for the target"),
               bool_opt("running", "set domain to be running on restore"),
               bool_opt("paused", "set domain to be paused on restore"),
               bool_opt("verbose", "display the progress of save")])
def cmd_save(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    to = ctl.opt_required(pc, "file")
    flags = _save_flags(pc)
    xmlfile = ctl.opt_string(pc, "xml")
    dxml = ctl.read_file(xmlfile) if xmlfile is not None else None
    err = watch_job(ctl, dom, pc.flag("verbose"), "Save",
                    lambda: dom.save(to, dxml, flags))
    if err is not None:
        ctl.save_error(err)
        raise ctl.fail(f"Failed to save domain '{name}' to {to}")
    ctl.print_extra(f"\nDomain '{name}' saved to {to}\n")
    return True


@command("restore", group=_DOM, help="restore a domain from a saved state in a file",
         desc="Restore a domain.",
         opts=[data_opt("file", "the state to restore"),
               bool_opt("bypass-cache", "avoid file system cache when restoring"),
               string_opt("xml", "filename containing updated XML for the target"),
               bool_opt("running", "restore domain into running state"),
               bool_opt("paused", "restore domain into paused state"),
               bool_opt("reset-nvram", "re-initialize NVRAM from its pristine template")])
def cmd_restore(ctl: Control, pc: ParsedCommand) -> bool:
    path = ctl.opt_required(pc, "file")
    flags = _save_flags(pc) | (_RESET_NVRAM if pc.flag("reset-nvram") else 0)
    xmlfile = ctl.opt_string(pc, "xml")
    dxml = ctl.read_file(xmlfile) if xmlfile is not None else None
    with ctl.failing(f"Failed to restore domain from {path}"):
        ctl.c.restore_domain(path, dxml, flags)
    ctl.print_extra(f"Domain restored from {path}\n")
    return True


@command("managedsave", group=_DOM, help="managed save of a domain state",
         desc="Save and destroy a running domain, so it can be restarted from\n"
              "    the same state at a later time.  When the virsh 'start'\n"
              "    command is next run for the domain, it will automatically\n"
              "    be started from this saved state.",
         opts=[DOMAIN_OPT,
               bool_opt("bypass-cache", "avoid file system cache when saving"),
               bool_opt("running", "set domain to be running on next start"),
               bool_opt("paused", "set domain to be paused on next start"),
               bool_opt("verbose", "display the progress of save")])
def cmd_managedsave(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    flags = _save_flags(pc)
    err = watch_job(ctl, dom, pc.flag("verbose"), "Managedsave",
                    lambda: dom.managed_save(flags))
    if err is not None:
        ctl.save_error(err)
        raise ctl.fail(f"Failed to save domain '{name}' state")
    ctl.print_extra(f"\nDomain '{name}' state saved by libvirt\n")
    return True


@command("managedsave-remove", group=_DOM, help="Remove managed save of a domain",
         desc="Remove an existing managed save state file from a domain", opts=[DOMAIN_OPT])
def cmd_managedsave_remove(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    name = ctl.opt_required(pc, "domain")
    try:
        has = dom.has_managed_save_image(0)
    except libvirtError as e:
        ctl.save_error(e)
        raise ctl.fail("Failed to check for domain managed save image") from None
    # virsh prints these two without a newline; the blank line after the command ends them
    if not has:
        ctl.print_extra(f"Domain '{name}' has no manage save image; removal skipped")
        return True
    with ctl.failing(f"Failed to remove managed save image for domain '{name}'"):
        dom.managed_save_remove(0)
    ctl.print_extra(f"Removed managedsave image for domain '{name}'")
    return True




_JOB_TYPES = ("None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled")


def _job_sizes(ctl: Control, what: str, processed: int, remaining: int, total: int) -> None:
    if not (processed or remaining or total):
        return
    for label, value in (("processed", processed), ("remaining", remaining),
                         ("total", total)):
        num, unit = pretty_capacity(value)
        ctl.print(f"{what + ' ' + label + ':':<17} {c_double(num, 3)} {unit}\n")


@command("domjobinfo", group=_DOM, help="domain job information",
         desc="Returns information about jobs running on a domain.",
         opts=[DOMAIN_OPT,
               bool_opt("completed", "return statistics of a recently completed job"),
               bool_opt("keep-completed",
                        "don't destroy statistics of a recently completed job when reading"),
               bool_opt("anystats", "print statistics for any kind of job (even failed ones)"),
               bool_opt("rawstats", "print the raw data returned by libvirt")])
def cmd_domjobinfo(ctl: Control, pc: ParsedCommand) -> bool:
    """virsh's cmdDomjobinfo on its virDomainGetJobInfo path (pyvirt has no
    virDomainGetJobStats yet, which --completed, --keep-completed and --rawstats need)."""
    dom = ctl.domain(pc)
    for name in ("completed", "keep-completed", "rawstats"):
        if pc.flag(name):
            ctl.save_error(unsupported("virDomainGetJobStats"))
            return False
    info = ctl.call(dom.job_info)
    kind = int(info.type)
    name = _JOB_TYPES[kind] if kind < len(_JOB_TYPES) else "Unknown"
    ctl.print(f"{'Job type:':<17} {name:<12}\n")
    if kind not in (1, 2) and not pc.flag("anystats"):    # no job, or a finished one
        return True
    ctl.print(f"{'Time elapsed:':<17} {info.time_elapsed:<12} ms\n")
    if kind == 1:
        ctl.print(f"{'Time remaining:':<17} {info.time_remaining:<12} ms\n")
    _job_sizes(ctl, "Data", info.data_processed, info.data_remaining, info.data_total)
    _job_sizes(ctl, "Memory", info.mem_processed, info.mem_remaining, info.mem_total)
    _job_sizes(ctl, "File", info.file_processed, info.file_remaining, info.file_total)
    return True
