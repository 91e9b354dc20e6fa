"""UDP built-ins cannot be turned into a weapon (README "Security"): a
datagram forged to come from one of the server's own UDP listeners is never
answered, so two built-ins cannot be made to answer each other forever, and
one source gets answers at a bounded rate.

The forged datagram is sent through a raw socket (the tests run as root)
with a hand-built IPv4 and UDP header, as an attacker on the path would."""
import json
import os
import socket
import struct
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, udp_request


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def send_forged_udp(source, destination, payload):
    """Sends one UDP datagram whose IPv4 source is `source` (ip, port)."""
    src_ip, dst_ip = socket.inet_aton(source[0]), socket.inet_aton(destination[0])
    length = 8 + len(payload)
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    udp = struct.pack("!HHHH", source[1], destination[1], length, 0)
    udp_sum = checksum(pseudo + udp + payload) or 0xFFFF
    udp = struct.pack("!HHHH", source[1], destination[1], length, udp_sum)
    total = 20 + length
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0x1234, 0, 64, socket.IPPROTO_UDP, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        raw.sendto(ip + udp + payload, (destination[0], 0))


def send_forged_udp6(source, destination, payload):
    """The same over IPv6: a raw IPPROTO_RAW socket sends the IPv6 header
    we build (Linux 4.5+)."""
    src_ip, dst_ip = socket.inet_pton(socket.AF_INET6, source[0]), socket.inet_pton(socket.AF_INET6, destination[0])
    length = 8 + len(payload)
    pseudo = src_ip + dst_ip + struct.pack("!I3xB", length, socket.IPPROTO_UDP)
    udp = struct.pack("!HHHH", source[1], destination[1], length, 0)
    udp_sum = checksum(pseudo + udp + payload) or 0xFFFF
    udp = struct.pack("!HHHH", source[1], destination[1], length, udp_sum)
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, length, socket.IPPROTO_UDP, 64, src_ip, dst_ip)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        raw.sendto(ip6 + udp + payload, (destination[0], 0))


def service_counters(control):
    code, reply = harness.ctl_json(control, "services")
    assert code == 0, reply
    return {s["name"]: s for s in reply["services"]}


@unittest.skipUnless(os.geteuid() == 0, "forging a source address needs a raw socket (root)")
class SelfLoopTests(unittest.TestCase):
    def start(self, services):
        self.control = harness.control_socket_path()
        server = Server(base_config(services, control={"socket": self.control})).start()
        self.addCleanup(server.__exit__)
        return server

    def datagrams_in(self):
        return sum(s["datagrams_in"] for s in service_counters(self.control).values())

    def test_a_datagram_forged_from_chargen_to_echo_is_not_answered(self):
        # The reproduction: chargen and echo on unprivileged ports
        # (so the port < 1024 rule does not apply), one datagram "from"
        # chargen to echo. Before, they answered each other forever
        # (118,599 datagrams in 3 s).
        ports = {"chargen": harness.free_port(), "echo": harness.free_port()}
        server = self.start({k: builtin_service(k, [f"udp://127.0.0.1:{p}"]) for k, p in ports.items()})
        send_forged_udp(("127.0.0.1", ports["chargen"]), ("127.0.0.1", ports["echo"]), b"loop")
        time.sleep(3)
        seen = self.datagrams_in()
        print(f"\n  datagrams received by the server within 3 s of one forged datagram: {seen}")
        self.assertEqual(seen, 1, "the forged datagram started an exchange between the two services")
        echo = service_counters(self.control)["echo"]
        self.assertEqual(echo["datagrams_out"], 0)
        self.assertEqual(echo["rejected_by"]["own_address"], 1)
        server.wait_for(r"reject service=echo peer=127\.0\.0\.1:%d reason=own_address" % ports["chargen"])
        # Ordinary clients are still answered.
        self.assertEqual(udp_request(("127.0.0.1", ports["echo"]), b"still here"), b"still here")

    def test_the_same_over_ipv6(self):
        ports = {"chargen": harness.free_port("::1"), "echo": harness.free_port("::1")}
        self.start({k: builtin_service(k, [f"udp://[::1]:{p}"]) for k, p in ports.items()})
        try:
            send_forged_udp6(("::1", ports["chargen"]), ("::1", ports["echo"]), b"loop")
        except OSError as e:
            self.skipTest(f"this kernel sends no hand-built IPv6 header: {e}")
        time.sleep(2)
        seen = self.datagrams_in()
        print(f"\n  datagrams received within 2 s of one forged IPv6 datagram: {seen}")
        if seen == 0:
            self.skipTest("the forged IPv6 datagram was not delivered")
        self.assertEqual(seen, 1)
        self.assertEqual(service_counters(self.control)["echo"]["rejected_by"]["own_address"], 1)
        self.assertEqual(udp_request(("::1", ports["echo"]), b"v6"), b"v6")

    def test_a_wildcard_listener_refuses_any_local_address_with_its_port(self):
        # echo on udp://*:P answers on every local address; a datagram from
        # 127.0.0.2:Q, where udp://*:Q is daytime's, is one of ours too.
        echo, daytime = harness.free_port(), harness.free_port()
        self.start({"echo": builtin_service("echo", [f"udp://*:{echo}"]),
                    "daytime": builtin_service("daytime", [f"udp://*:{daytime}"])})
        send_forged_udp(("127.0.0.2", daytime), ("127.0.0.1", echo), b"loop")
        send_forged_udp(("127.0.0.1", echo), ("127.0.0.3", daytime), b"loop")
        time.sleep(1)
        counters = service_counters(self.control)
        self.assertEqual(counters["echo"]["datagrams_out"], 0)
        self.assertEqual(counters["daytime"]["datagrams_out"], 0)
        self.assertEqual(counters["echo"]["rejected_by"]["own_address"], 1)
        self.assertEqual(counters["daytime"]["rejected_by"]["own_address"], 1)
        # An address that is not the host's own, with that port, is a client.
        self.assertEqual(udp_request(("127.0.0.1", echo), b"hi"), b"hi")


class SourceRateTests(unittest.TestCase):
    def test_one_source_gets_answers_at_a_bounded_rate_by_default(self):
        port = harness.free_port()
        control = harness.control_socket_path()
        server = Server(base_config({"chargen": builtin_service("chargen", [f"udp://127.0.0.1:{port}"])},
                                    control={"socket": control})).start()
        self.addCleanup(server.__exit__)
        sent, answered = 200, 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(0.2)
            for _ in range(sent):
                u.sendto(b"x", ("127.0.0.1", port))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    u.recvfrom(65536)
                    answered += 1
                except socket.timeout:
                    break
        print(f"\n  answers to {sent} datagrams sent at once from one source: {answered}")
        # The default is 10 per second with a burst of 20 (README "Security").
        self.assertGreater(answered, 0)
        self.assertLessEqual(answered, 30)
        counters = service_counters(control)["chargen"]
        self.assertGreaterEqual(counters["rejected_by"]["rate"], sent - 30)
        # Another source has a bucket of its own.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.bind(("127.0.0.2", 0))
            other.settimeout(2)
            other.sendto(b"x", ("127.0.0.1", port))
            self.assertIsNotNone(other.recvfrom(65536))

    def test_a_service_source_rate_replaces_the_default(self):
        port = harness.free_port()
        server = Server(base_config({"echo": builtin_service("echo", [f"udp://127.0.0.1:{port}"],
                                                             source_rate={"per_second": 1000, "burst": 1000})})).start()
        self.addCleanup(server.__exit__)
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(2)
            for i in range(100):
                u.sendto(b"%d" % i, ("127.0.0.1", port))
                try:
                    u.recvfrom(65536)
                    answered += 1
                except socket.timeout:
                    break
        self.assertEqual(answered, 100)


if __name__ == "__main__":
    harness.main()
