"""The C-named layer: libvirt's C conventions over the same API."""
from __future__ import annotations

from pyvirt import capi
from pyvirt.constants import DomainState, ErrorNumber


def test_c_conventions() -> None:
    conn = capi.virConnectOpen("test:///default")
    assert conn is not None
    dom = capi.virDomainLookupByName(conn, "test")
    assert dom is not None and capi.virDomainGetName(dom) == "test"
    assert capi.virDomainGetID(dom) == 1
    assert capi.virDomainGetUUIDString(dom) == "6695eb01-f6a4-8304-79aa-97f2502e193f"
    assert capi.virDomainSuspend(dom) == 0
    info = capi.virDomainGetInfo(dom)
    assert info is not None and info.state is DomainState.PAUSED
    assert capi.virDomainSuspend(dom) == -1
    err = capi.virGetLastError()
    assert err is not None and err.code is ErrorNumber.INTERNAL_ERROR
    assert capi.virGetLastErrorMessage() == "internal error: domain 'test' not running"
    capi.virResetLastError()
    assert capi.virGetLastError() is None
    assert capi.virDomainLookupByName(conn, "nope") is None
    assert capi.virGetLastErrorCode() == ErrorNumber.NO_DOMAIN
    assert capi.virDomainIsActive(dom) == 1
    assert capi.virConnectClose(conn) == 0


def test_open_failure_sets_last_error() -> None:
    assert capi.virConnectOpen("bogus:///") is None
    assert capi.virGetLastErrorCode() == ErrorNumber.NO_CONNECT
