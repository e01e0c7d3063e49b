"""The shell's state and its services to command handlers: output, errors, the connection,
option values and object lookup.

Mirrors virsh's vshControl: `print` is vshPrint, `print_extra` is vshPrintExtra (silent
with --quiet), `error` is vshError. A failing API call leaves its libvirtError as
`last_error`, which the runner prints after the handler's own message, the way
vshReportError does; helpers that virsh runs with vshResetLibvirtError clear it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from ..errors import libvirtError
from .fmt import ScaleError, scale_integer
from .parser import ParsedCommand

if TYPE_CHECKING:
    from .._api import Connection, Domain, Network, StoragePool, StorageVol

__all__ = ["BY_ID", "BY_NAME", "BY_UUID", "CommandFailed", "Control"]

BY_ID, BY_UUID, BY_NAME = 1, 2, 4
_UUID_LEN = 36
_UINT_MAX = 2**32 - 1
_ULLONG_MAX = 2**64 - 1
_MAX_XML_FILE = 10 * 1024 * 1024   # VSH_MAX_XML_FILE


class CommandFailed(Exception):
    """A handler gives up; whatever should be said has been said (or is in last_error)."""


def _c_strtol(text: str, lo: int, hi: int) -> int:
    """virStrToLong_*: base 10, optional leading blanks and sign, nothing after; range."""
    s = text.lstrip(" \t\n\v\f\r")
    if not s or not (s.lstrip("+-")[:1].isdigit()) or s[:2] in ("+-", "-+", "++", "--"):
        raise ValueError(text)
    value = int(s, 10)  # raises on trailing garbage
    if not lo <= value <= hi:
        raise ValueError(text)
    return value


class Control:
    """One pyvirsh session: its streams, flags, connection and last error."""

    def __init__(self, *, uri: str | None = None, readonly: bool = False, quiet: bool = False,
                 timing: bool = False, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None, stdin: IO[str] | None = None,
                 progname: str = "pyvirsh") -> None:
        import sys
        self.out: IO[str] = stdout if stdout is not None else sys.stdout
        self.err: IO[str] = stderr if stderr is not None else sys.stderr
        self.inp: IO[str] = stdin if stdin is not None else sys.stdin
        self.connname = uri
        self.readonly = readonly
        self.quiet = quiet
        self.timing = timing
        self.progname = progname
        self.interactive = False
        self.conn: Connection | None = None
        self.last_error: libvirtError | None = None
        self.escape_char = "^]"
        # keepalive as virsh sets it on every connection (-k/-K); `keepalive_forced`
        # when the user asked, which makes a connection without keepalive an error
        self.keepalive_interval = 5
        self.keepalive_count = 6
        self.keepalive_forced = False
        # Called with a name when a command reaches a point tests may synchronise on
        # ("event-wait": callbacks registered, waiting for events). No effect otherwise.
        self.hooks: list[Callable[[str], None]] = []

    # -- output ----------------------------------------------------------------------
    def print(self, text: str) -> None:
        self.out.write(text)

    def print_extra(self, text: str) -> None:
        """Output that --quiet suppresses (confirmations, separators)."""
        if not self.quiet:
            self.out.write(text)

    def flush(self) -> None:
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass

    def error(self, message: str) -> None:
        """'error: MESSAGE' on stderr, after flushing stdout so the two interleave right."""
        self.flush()
        self.err.write(f"error: {message}\n")
        self.err.flush()

    def notify(self, point: str) -> None:
        for hook in list(self.hooks):
            hook(point)

    # -- errors ----------------------------------------------------------------------
    def save_error(self, err: libvirtError) -> None:
        self.last_error = err

    def reset_error(self) -> None:
        self.last_error = None

    def report_error(self) -> None:
        """Print the saved library error, if any, and forget it (vshReportError)."""
        err, self.last_error = self.last_error, None
        if err is not None:
            self.error(str(err) or "unknown error")

    def fail(self, message: str | None = None) -> CommandFailed:
        """Print `message` (if given) and return the exception that ends the handler."""
        if message is not None:
            self.error(message)
        return CommandFailed(message or "")

    @contextmanager
    def failing(self, message: str) -> Iterator[None]:
        """Run an API call; if it fails, say `message`, then (via the runner) the
        library's own error, as virsh's `vshError(...); return false` pattern does."""
        try:
            yield
        except libvirtError as e:
            self.save_error(e)
            raise self.fail(message) from None

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an API call; a failure ends the handler with only the library error."""
        try:
            return fn(*args)
        except libvirtError as e:
            self.save_error(e)
            raise CommandFailed() from None

    # -- the connection --------------------------------------------------------------
    def open(self, uri: str | None, readonly: bool) -> bool:
        """Open a connection (closing any current one); False after printing why not."""
        from ..connection import connect
        self.close()
        try:
            conn = connect(uri, readonly=readonly)
        except libvirtError as e:
            self.save_error(e)
            self.error("failed to connect to the hypervisor")
            return False
        if self.keepalive_interval > 0 and not self._keepalive(conn):
            conn.close()
            self.error("failed to connect to the hypervisor")
            return False
        self.conn = conn
        return True

    def _keepalive(self, conn: Connection) -> bool:
        """virConnectSetKeepAlive as virsh calls it: failure only matters if -k/-K was
        given. pyvirt has no keepalive call yet, which is 'not supported' here."""
        setter = getattr(conn, "set_keep_alive", None)
        try:
            if setter is None:
                from ..constants import ErrorDomain, ErrorNumber
                from ..errors import error
                raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, "virConnectSetKeepAlive")
            setter(self.keepalive_interval, self.keepalive_count)
        except libvirtError as e:
            if self.keepalive_forced:
                self.save_error(e)
                self.error("Cannot setup keepalive on connection as requested, disconnecting")
                return False
        return True

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except libvirtError as e:
                self.error(f"Failed to disconnect from the hypervisor: {e}")

    def ensure_connected(self) -> bool:
        """virshConnectionHandler: reconnect if needed; False with an error if impossible."""
        if self.conn is None or self.conn.closed:
            if self.open(self.connname, self.readonly):
                return True
            self.report_error()
            self.error("no valid connection")
            return False
        return True

    @property
    def c(self) -> Connection:
        """The open connection (commands that need one only run with one)."""
        if self.conn is None:
            raise self.fail("no valid connection")
        return self.conn

    # -- option values ---------------------------------------------------------------
    def opt_string(self, pc: ParsedCommand, name: str) -> str | None:
        """vshCommandOptStringReq: the value, None if absent, an error if empty."""
        value = pc.string(name)
        if value is None:
            return None
        opt = pc.cmd.opt(name)
        if value == "" and not (opt is not None and opt.empty_ok):
            raise self.fail(f"Failed to get option '{name}': Option argument is empty")
        return value

    def opt_required(self, pc: ParsedCommand, name: str) -> str:
        value = self.opt_string(pc, name)
        if value is None:
            raise self.fail(f"Failed to get option '{name}': Mandatory option not present")
        return value

    def _number(self, pc: ParsedCommand, name: str, lo: int, hi: int) -> int | None:
        value = pc.string(name)
        if value is None:
            return None
        try:
            return _c_strtol(value, lo, hi)
        except ValueError:
            raise self.fail(f"Numeric value '{value}' for <{name}> option is malformed "
                            "or out of range") from None

    def opt_int(self, pc: ParsedCommand, name: str) -> int | None:
        return self._number(pc, name, -2**31, 2**31 - 1)

    def opt_uint(self, pc: ParsedCommand, name: str) -> int | None:
        """vshCommandOptUInt: rejects negative numbers."""
        return self._number(pc, name, 0, _UINT_MAX)

    def opt_ull(self, pc: ParsedCommand, name: str) -> int | None:
        return self._number(pc, name, 0, _ULLONG_MAX)

    def opt_scaled(self, pc: ParsedCommand, name: str, scale: int,
                   limit: int = _ULLONG_MAX) -> int | None:
        """vshCommandOptScaledInt: '1G', '512M', '1024' (times `scale`), at most `limit`."""
        value = pc.string(name)
        if value is None:
            return None
        try:
            return scale_integer(value, scale, limit)
        except ScaleError as e:
            self.save_scale_error(e)
            raise self.fail(f"Scaled numeric value '{value}' for <{name}> option is "
                            "malformed or out of range") from None

    def save_scale_error(self, e: ScaleError) -> None:
        """Keep the library error virScaleInteger would have reported, if any."""
        if e.detail is not None:
            from ..constants import ErrorDomain, ErrorNumber
            from ..errors import error
            code = ErrorNumber.OVERFLOW if e.overflow else ErrorNumber.INVALID_ARG
            self.save_error(error(code, ErrorDomain.NONE, e.detail))

    def opt_timeout_ms(self, pc: ParsedCommand) -> int:
        """--timeout SECONDS as milliseconds; 0 when absent (vshCommandOptTimeoutToMs)."""
        seconds = self.opt_uint(pc, "timeout")
        if seconds is None:
            return 0
        if seconds == 0 or seconds > (2**31 - 1) // 1000:
            raise self.fail(f"Numeric value '{seconds}' for <timeout> option is malformed "
                            "or out of range")
        return seconds * 1000

    def exclusive(self, pc: ParsedCommand, a: str, b: str) -> None:
        """VSH_EXCLUSIVE_OPTIONS: both given is an error."""
        if pc.has(a) and pc.has(b):
            raise self.fail(f"Options --{a} and --{b} are mutually exclusive")

    def exclusive_var(self, a_set: bool, a: str, b_set: bool, b: str) -> None:
        if a_set and b_set:
            raise self.fail(f"Options --{a} and --{b} are mutually exclusive")

    def requires(self, pc: ParsedCommand, needer: str, needed: str) -> None:
        """VSH_REQUIRE_OPTION: `needer` given without `needed` is an error."""
        if pc.has(needer) and not pc.has(needed):
            raise self.fail(f"Option --{needed} is required by option --{needer}")

    def read_file(self, path: str) -> str:
        """A file's text, or virsh's error for an unreadable one (virFileReadAll)."""
        try:
            # opened apart from the read: virsh words open and read failures differently
            f = open(path, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
        except IsADirectoryError as e:
            # C's open() of a directory succeeds and the read fails: say it as virsh does
            raise self.fail(f"Failed to read file '{path}': {os.strerror(e.errno or 0)}") from None
        except OSError as e:
            raise self.fail(f"Failed to open file '{path}': {os.strerror(e.errno or 0)}") from None
        with f:
            try:
                data = f.read(_MAX_XML_FILE + 1)
            except OSError as e:
                raise self.fail(f"Failed to read file '{path}': "
                                f"{os.strerror(e.errno or 0)}") from None
        if len(data) > _MAX_XML_FILE:
            raise self.fail(f"File '{path}' is too large")
        return data

    # -- object lookup ---------------------------------------------------------------
    def _try(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except libvirtError as e:
            self.save_error(e)
            return None

    def domain(self, pc: ParsedCommand, optname: str = "domain",
               by: int = BY_ID | BY_UUID | BY_NAME) -> Domain:
        """The domain an option names, by ID, UUID or name (virshLookupDomainBy); its
        failure is one line, the library error being dropped as virsh drops it."""
        name = self.opt_required(pc, optname)
        return self.domain_by(name, by)

    def domain_by(self, name: str, by: int = BY_ID | BY_UUID | BY_NAME) -> Domain:
        c = self.c
        dom: Domain | None = None
        if by & BY_ID:
            try:
                ident = _c_strtol(name, -2**31, 2**31 - 1)
            except ValueError:
                ident = -1
            if ident >= 0:
                dom = self._try(c.lookup_domain_by_id, ident)
        if dom is None and by & BY_UUID and len(name) == _UUID_LEN:
            dom = self._try(c.lookup_domain_by_uuid_string, name)
        if dom is None and by & BY_NAME:
            dom = self._try(c.lookup_domain_by_name, name)
        self.reset_error()
        if dom is None:
            raise self.fail(f"failed to get domain '{name}'")
        return dom

    def network(self, pc: ParsedCommand, optname: str = "network",
                by: int = BY_UUID | BY_NAME) -> Network:
        name = self.opt_required(pc, optname)
        c = self.c
        net: Network | None = None
        if by & BY_UUID and len(name) == _UUID_LEN:
            net = self._try(c.lookup_network_by_uuid_string, name)
        if net is None and by & BY_NAME:
            net = self._try(c.lookup_network_by_name, name)
        if net is None:
            raise self.fail(f"failed to get network '{name}'")
        return net

    def pool(self, pc: ParsedCommand, optname: str = "pool",
             by: int = BY_UUID | BY_NAME) -> StoragePool:
        name = self.opt_required(pc, optname)
        return self.pool_by(name, by)

    def pool_by(self, name: str, by: int = BY_UUID | BY_NAME) -> StoragePool:
        c = self.c
        pool: StoragePool | None = None
        if by & BY_UUID and len(name) == _UUID_LEN:
            pool = self._try(c.lookup_storage_pool_by_uuid_string, name)
        if pool is None and by & BY_NAME:
            pool = self._try(c.lookup_storage_pool_by_name, name)
        if pool is None:
            raise self.fail(f"failed to get pool '{name}'")
        return pool

    def vol(self, pc: ParsedCommand, optname: str = "vol", pooloptname: str | None = "pool",
            by: int = BY_UUID | BY_NAME) -> StorageVol:
        """A volume by name within --pool, else by key, else by path (virshCommandOptVolBy)."""
        name = self.opt_required(pc, optname)
        pool = None
        pool_name = self.opt_string(pc, pooloptname) if pooloptname else None
        if pool_name is not None:
            pool = self.pool_by(pool_name)
            active = self._try(pool.is_active)
            if not active:
                raise self.fail(f"pool '{pool_name}' is not active")
        c = self.c
        vol: StorageVol | None = None
        if pool is not None and by & BY_NAME:
            vol = self._try(pool.lookup_volume_by_name, name)
        if vol is None and by & BY_UUID:
            vol = self._try(c.lookup_storage_vol_by_key, name)
        if vol is None and by & BY_UUID:
            vol = self._try(c.lookup_storage_vol_by_path, name)
        if vol is None:
            if pool is not None or not pooloptname:
                raise self.fail(f"failed to get vol '{name}'")
            raise self.fail(f"failed to get vol '{name}', specifying --{pooloptname} might help")
        self.reset_error()
        return vol
