from scripts.cluster.memorystore import redis_settings

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_a_plain_instance_without_auth_is_a_bare_redis_url():
    url, ca = redis_settings({"host": "10.0.0.3", "port": 6379, "transitEncryptionMode": "DISABLED"}, "")
    assert (url, ca) == ("redis://10.0.0.3:6379", "")


def test_auth_goes_in_the_url_escaped():
    url, _ = redis_settings({"host": "10.0.0.3", "port": 6379}, "a/b:c@d")
    assert url == "redis://:a%2Fb%3Ac%40d@10.0.0.3:6379"


def test_in_transit_encryption_is_rediss_with_the_server_ca():
    instance = {
        "host": "10.0.0.4",
        "port": 6378,
        "transitEncryptionMode": "SERVER_AUTHENTICATION",
        "serverCaCerts": [{"serialNumber": "1", "cert": CA}],
    }
    url, ca = redis_settings(instance, "auth")
    assert (url, ca) == ("rediss://:auth@10.0.0.4:6378", CA)
