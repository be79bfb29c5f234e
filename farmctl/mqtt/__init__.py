"""Telemetry on MQTT: the OctoPrint-MQTT plugin's topics per printer and Home Assistant discovery.

``messages`` builds what is published (no I/O, time passed in); ``publisher`` connects to the
broker with aiomqtt, which is imported only when farm.toml names a broker. Commands stay on HTTP.
"""
