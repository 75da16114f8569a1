"""The local stack's ports: kept between runs, moved when something else took them."""

import itertools
import json

from scripts.stack.ports import PREFERRED_PORTS, assign_ports, choose_ports


def fresh_ports():
    numbers = itertools.count(40000)
    return lambda: next(numbers)


def free_but(*taken):
    return lambda port: port not in taken


def test_each_process_gets_its_preferred_port_when_free():
    assert assign_ports({}, free_but(), fresh_ports()) == PREFERRED_PORTS


def test_a_port_from_the_last_run_is_kept():
    ports = assign_ports({"nginx": 18080}, free_but(), fresh_ports())
    assert ports == {**PREFERRED_PORTS, "nginx": 18080}


def test_a_taken_port_moves_to_the_preferred_one_then_to_a_fresh_one():
    ports = assign_ports(
        {"nginx": 18080, "redis": 16380}, free_but(18080, 16380, PREFERRED_PORTS["redis"]), fresh_ports()
    )
    assert ports["nginx"] == PREFERRED_PORTS["nginx"]
    assert ports["redis"] == 40000


def test_no_port_is_given_twice():
    # The last run's file says two processes had one port, and a third's preferred port.
    saved = {"nginx": 9000, "mariadb": 9000, "redis": PREFERRED_PORTS["grpc-server"]}
    ports = assign_ports(saved, free_but(), fresh_ports())
    assert ports["nginx"] == 9000
    assert ports["mariadb"] == PREFERRED_PORTS["mariadb"]
    assert ports["redis"] == PREFERRED_PORTS["grpc-server"]
    assert ports["grpc-server"] == 40000
    assert len(set(ports.values())) == len(ports) == len(PREFERRED_PORTS)


def test_the_choice_is_saved_for_the_next_run(tmp_path):
    ports = choose_ports(tmp_path)
    assert json.loads((tmp_path / "ports.json").read_text()) == ports
    assert sorted(ports) == sorted(PREFERRED_PORTS)
    assert len(set(ports.values())) == len(ports)
