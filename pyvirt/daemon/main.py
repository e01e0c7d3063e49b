"""The pyvirtd command line: options, logging, daemonizing, then serve until stopped.

    pyvirtd --root DIR [--listen 127.0.0.1:PORT] [--tls-listen HOST:PORT]
            [--config FILE] [--foreground] [--timeout SECS] [--verbose]

Everything the daemon keeps is under DIR (sockets in DIR/run, the qemu driver's state in
DIR/qemu, logs in DIR/log), so a private daemon needs nothing but a directory. TCP
listens on loopback unless the config file's listen_addr says otherwise: from the
command line a non-loopback address is refused (plain TCP carries no authentication).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .config import Config, ConfigError, is_loopback, load, parse_hostport

__all__ = ["build_config", "main", "setup_logging"]

_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pyvirtd",
        description="Serve pyvirt's drivers over libvirt's remote protocol.")
    ap.add_argument("--root", required=True, help="directory holding all of the daemon's state")
    ap.add_argument("--listen", metavar="HOST:PORT", help="also listen on plain TCP (loopback)")
    ap.add_argument("--tls-listen", metavar="HOST:PORT", help="also listen on TLS")
    ap.add_argument("--config", "-f", metavar="FILE", help="libvirtd.conf-style settings")
    ap.add_argument("--foreground", action="store_true",
                    help="stay attached and log to stderr (default: daemonize)")
    ap.add_argument("--timeout", type=int, metavar="SECS",
                    help="exit after SECS without clients or running guests")
    ap.add_argument("--verbose", "-v", action="store_true", help="log at info level")
    ap.add_argument("--pidfile", metavar="FILE", help="ignored; the pidfile is DIR/run/pyvirtd.pid")
    return ap


def build_config(args: argparse.Namespace) -> tuple[Config, tuple[str, int] | None,
                                                     tuple[str, int] | None]:
    """The settings and the TCP/TLS addresses the options and the config file give."""
    root = Path(args.root).resolve()
    cfg = Config(root=root)
    if args.config:
        cfg = load(args.config, cfg)
    if args.timeout is not None:
        cfg.timeout = args.timeout
    if args.verbose:
        cfg.log_level = min(cfg.log_level, 2)
    tcp = tls = None
    for opt, value in (("--listen", args.listen), ("--tls-listen", args.tls_listen)):
        if value is None:
            continue
        host, port = parse_hostport(value, opt)
        if not is_loopback(host) and host != cfg.listen_addr:
            raise ConfigError(f"{opt} {value}: not a loopback address; set listen_addr in "
                              "the config file to listen elsewhere")
        if opt == "--listen":
            tcp = (host, port)
        else:
            tls = (host, port)
    cfg.check()
    return cfg, tcp, tls


def setup_logging(cfg: Config, foreground: bool) -> None:
    """Log lines as libvirtd's: time, pid, level, message; to stderr and/or a file."""
    fmt = logging.Formatter("%(asctime)s.%(msecs)03d: %(process)d: %(levelname)s : %(message)s",
                            "%Y-%m-%d %H:%M:%S")
    root = logging.getLogger("pyvirt")
    root.setLevel(_LEVELS[cfg.log_level])
    root.handlers.clear()
    handlers: list[logging.Handler] = []
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    path = cfg.log_file or (str(cfg.root / "log" / "pyvirtd.log") if not foreground else "")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)


def _daemonize() -> None:
    """Detach: fork, new session, fork again; stdio to /dev/null."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    os.close(fd)


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena; the GIL lets one run
    at a time anyway, so two arenas serve the worker pool and keep the RSS down."""
    try:
        import ctypes
        ctypes.CDLL(None).mallopt(-8, 2)    # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run pyvirtd; returns the exit status (1 for bad settings or a failed start)."""
    args = _parser().parse_args(argv)
    try:
        cfg, tcp, tls = build_config(args)
    except ConfigError as exc:
        print(f"pyvirtd: {exc}", file=sys.stderr)
        return 1
    from .server import Server, ServerError  # imports the drivers' stack: after checks
    if not args.foreground:
        _daemonize()
    setup_logging(cfg, args.foreground)
    _few_malloc_arenas()
    server = Server(cfg, tcp, tls)
    try:
        server.start()
    except (ServerError, ConfigError, OSError) as exc:
        logging.getLogger("pyvirt.daemon").error("%s", exc)
        if args.foreground:
            print(f"pyvirtd: {exc}", file=sys.stderr)
        server.stop()
        return 1
    try:
        server.run()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
