"""Each printer is found as an OctoPrint by a zeroconf browser on this machine (loopback only)."""

import pytest

zeroconf = pytest.importorskip("zeroconf", reason="the optional zeroconf package is not installed")

from zeroconf.asyncio import AsyncZeroconf  # noqa: E402

from farmctl.http.announce import SERVICE_TYPE, Announced, announce  # noqa: E402
from farmctl.http.octoprint_settings import upnp_uuid  # noqa: E402


async def test_printers_are_announced_as_octoprint_and_withdrawn():
    announcer = await announce([Announced("mk3-left", 5001, "/"), Announced("ender", 5000, "/printers/ender/")], "127.0.0.1")
    assert announcer is not None
    browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=zeroconf.IPVersion.V4Only)
    try:
        left = await browser.async_get_service_info(SERVICE_TYPE, f"mk3-left.{SERVICE_TYPE}", timeout=3000)
        ender = await browser.async_get_service_info(SERVICE_TYPE, f"ender.{SERVICE_TYPE}", timeout=3000)
        assert left is not None and ender is not None
        assert left.port == 5001 and left.properties[b"path"] == b"/"
        assert ender.port == 5000 and ender.properties[b"path"] == b"/printers/ender/"
        assert left.properties[b"uuid"] == upnp_uuid("mk3-left").encode() != ender.properties[b"uuid"]
        assert left.properties[b"api"] == b"0.1"
    finally:
        await announcer.close()
        await browser.async_close()
