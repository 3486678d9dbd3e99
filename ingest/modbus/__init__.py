"""Modbus ingestion: register maps (`registers`), decoding (`decode`), block planning
(`blocks`), the site configuration (`config`), the asyncio poller (`poller`) and fault-code
alarms (`alarms`). See docs/modbus.md."""
