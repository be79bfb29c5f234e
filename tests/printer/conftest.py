import pytest

from farmctl.printer import Printer


@pytest.fixture
def job_file(tmp_path):
    return tmp_path / "job.gcode"


@pytest.fixture
async def connect():
    printers: list[Printer] = []

    async def connect(port: str, **kwargs) -> Printer:
        printer = Printer("test", port, handshake_timeout=kwargs.pop("handshake_timeout", 5), **kwargs)
        printers.append(printer)
        await printer.connect()
        return printer

    yield connect
    for printer in printers:
        await printer.disconnect()
