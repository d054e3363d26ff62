"""Checks the properties the deployment files promise (docker/compose.yaml,
deploy/k8s/): topology, probes, security settings. Run by scripts/test.sh
with Debian's python3-yaml: /usr/bin/python3 tests/deploy/manifests_test.py
"""
import os
import unittest

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load_all(path):
    with open(os.path.join(ROOT, path)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def k8s(kind):
    docs = []
    for name in sorted(os.listdir(os.path.join(ROOT, "deploy/k8s"))):
        if name.endswith(".yaml"):
            docs += [d for d in load_all("deploy/k8s/" + name) if d.get("kind") == kind]
    return docs


class ComposeTest(unittest.TestCase):
    def setUp(self):
        (self.compose,) = load_all("docker/compose.yaml")
        self.services = self.compose["services"]

    def test_postgres_is_reachable_only_through_the_bastion(self):
        pg = self.services["postgres"]
        self.assertNotIn("ports", pg, "PostgreSQL must not be published")
        self.assertEqual(pg["networks"], ["db"])
        self.assertTrue(self.compose["networks"]["db"]["internal"])
        self.assertEqual(sorted(self.services["bastion"]["networks"]), ["db", "edge"])

    def test_two_stateless_replicas_tunnel_through_the_bastion(self):
        replicas = [s for n, s in self.services.items() if n.startswith("db-")]
        self.assertEqual(len(replicas), 2)
        keys = set()
        for s in replicas:
            env = s["environment"]
            self.assertEqual(s["networks"], ["edge"], "replicas cannot reach postgres directly")
            self.assertEqual(env["SSH_HOST"], "bastion")
            self.assertEqual(env["POSTGRES_REMOTE_HOST"], "postgres")
            self.assertEqual(sorted(s["secrets"]), ["auth_tokens", "ssh_client_key",
                                                    "ssh_known_hosts", "tls_ca", "tls_cert",
                                                    "tls_key"])
            self.assertEqual(s["depends_on"]["bastion"]["condition"], "service_healthy")
            self.assertNotIn("volumes", s, "replicas keep no state")
            keys.add(tuple(s["env_file"]))
        self.assertEqual(keys, {("secrets/compose.env",)},
                         "replicas share PAGE_TOKEN_KEY from the generated env file")
        self.assertEqual(
            self.services["bastion"]["depends_on"]["postgres"]["condition"], "service_healthy")

    def test_secure_by_default(self):
        for name, s in self.services.items():
            env = s.get("environment", {})
            for key in ("POSTGRES_PASSWORD", "PAGE_TOKEN_KEY"):
                self.assertNotIn(key, env, name + ": secrets come from generated files only")
            self.assertNotIn("ALLOW_PLAINTEXT_NON_LOOPBACK", env, name)
        for name in ("db-1", "db-2"):
            env = self.services[name]["environment"]
            self.assertEqual(env["TLS_CERT_FILE"], "/run/secrets/tls_cert")
            self.assertEqual(env["TLS_KEY_FILE"], "/run/secrets/tls_key")
            self.assertEqual(env["AUTH_TOKENS_FILE"], "/run/secrets/auth_tokens")
            self.assertNotEqual(env.get("REFLECTION"), "true")
        with open(os.path.join(ROOT, "scripts/compose-secrets.sh")) as f:
            script = f.read()
        for generated in ("tls_cert", "tls_key", "tls_ca", "auth_tokens", "client_token",
                          "compose.env", "postgres.env"):
            self.assertIn(generated, script, generated + " must be generated")

    def test_builds_take_the_base_image_argument(self):
        built = {n: s for n, s in self.services.items() if "build" in s}
        self.assertEqual(sorted(built), ["bastion", "db-1", "postgres"])
        self.assertEqual(self.services["db-2"]["image"], self.services["db-1"]["image"])
        for name, s in built.items():
            self.assertIn("BASE_IMAGE", s["build"]["args"], name)
        for path in ("docker/Dockerfile", "docker/bastion/Dockerfile", "docker/postgres/Dockerfile"):
            with open(os.path.join(ROOT, path)) as f:
                text = f.read()
            self.assertIn("ARG BASE_IMAGE=debian:bookworm-slim", text, path)
            self.assertIn("HEALTHCHECK", text, path)


class KubernetesTest(unittest.TestCase):
    def setUp(self):
        (self.deployment,) = k8s("Deployment")
        self.pod = self.deployment["spec"]["template"]["spec"]
        (self.container,) = self.pod["containers"]

    def test_three_replicas_with_grpc_health_probes_over_tls(self):
        self.assertEqual(self.deployment["spec"]["replicas"], 3)
        live = self.container["livenessProbe"]["exec"]["command"]
        ready = self.container["readinessProbe"]["exec"]["command"]
        self.assertEqual(live[:3], ["chatgenius-db", "health", "--service=liveness"])
        self.assertEqual(ready[:2], ["chatgenius-db", "health"])
        self.assertFalse(any(a.startswith("--service") for a in ready), "readiness is service ''")
        (cm,) = k8s("ConfigMap")
        # The probing CLI verifies the server certificate like any caller.
        self.assertEqual(cm["data"]["CHATGENIUS_DB_CA_FILE"], self.mount("tls") + "/ca.crt")

    def mount(self, volume):
        return next(m["mountPath"] for m in self.container["volumeMounts"] if m["name"] == volume)

    def test_non_root_read_only_with_resources(self):
        self.assertTrue(self.pod["securityContext"]["runAsNonRoot"])
        self.assertEqual(self.pod["securityContext"]["runAsUser"], 10001)
        sc = self.container["securityContext"]
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertIn("cpu", self.container["resources"]["requests"])
        self.assertIn("memory", self.container["resources"]["requests"])
        mounts = {m["mountPath"] for m in self.container["volumeMounts"]}
        self.assertIn("/tmp", mounts, "the tunnel socket needs a writable /tmp")

    def test_settings_and_secrets_are_wired(self):
        (cm,) = k8s("ConfigMap")
        secrets = {s["metadata"]["name"]: s for s in k8s("Secret")}
        refs = {list(r.values())[0]["name"] for r in self.container["envFrom"]}
        self.assertEqual(refs, {cm["metadata"]["name"], "chatgenius-db-env"})
        self.assertIn("chatgenius-db-env", secrets)
        self.assertIn("POSTGRES_PASSWORD", secrets["chatgenius-db-env"]["stringData"])
        ssh = secrets["chatgenius-db-ssh"]["stringData"]
        self.assertEqual(set(ssh), {"id_ed25519", "known_hosts"})
        ssh_dir = next(m["mountPath"] for m in self.container["volumeMounts"] if m["name"] == "ssh")
        self.assertEqual(cm["data"]["SSH_KEY_PATH"], ssh_dir + "/id_ed25519")
        self.assertEqual(cm["data"]["SSH_KNOWN_HOSTS"], ssh_dir + "/known_hosts")
        drain = int(cm["data"]["SHUTDOWN_DRAIN_MS"]) + int(cm["data"]["SHUTDOWN_GRACE_MS"])
        self.assertGreater(self.pod["terminationGracePeriodSeconds"] * 1000, drain)

    def test_secure_by_default(self):
        (cm,) = k8s("ConfigMap")
        data = cm["data"]
        self.assertNotIn("ALLOW_PLAINTEXT_NON_LOOPBACK", data, "TLS, not plaintext, on the pod network")
        self.assertEqual(data["TLS_CERT_FILE"], self.mount("tls") + "/tls.crt")
        self.assertEqual(data["TLS_KEY_FILE"], self.mount("tls") + "/tls.key")
        self.assertEqual(data["AUTH_TOKENS_FILE"], self.mount("auth") + "/tokens")
        self.assertEqual(data["AUTH_EXEMPT"], "grpc.health.v1.Health", "only the probes go without a token")
        self.assertEqual(data["REFLECTION"], "false")
        volumes = {v["name"]: v["secret"]["secretName"] for v in self.pod["volumes"] if "secret" in v}
        self.assertEqual(volumes, {"ssh": "chatgenius-db-ssh", "tls": "chatgenius-db-tls",
                                   "auth": "chatgenius-db-auth"})

    def test_kustomization_ships_no_secret(self):
        (kustomization,) = load_all("deploy/k8s/kustomization.yaml")
        for name in kustomization["resources"]:
            kinds = {d["kind"] for d in load_all("deploy/k8s/" + name)}
            self.assertNotIn("Secret", kinds, name + " would ship placeholder credentials")
        self.assertIn("networkpolicy.yaml", kustomization["resources"])
        listed = set(kustomization["resources"])
        on_disk = {n for n in os.listdir(os.path.join(ROOT, "deploy/k8s"))
                   if n.endswith(".yaml") and n != "kustomization.yaml"}
        self.assertEqual(on_disk - listed, {"secret.example.yaml"}, "every other file is applied")

    def test_network_policy_admits_only_callers_and_the_scraper(self):
        (policy,) = k8s("NetworkPolicy")
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(policy["spec"]["podSelector"]["matchLabels"], labels)
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress"])
        by_port = {}
        for rule in policy["spec"]["ingress"]:
            (port,) = rule["ports"]
            by_port[port["port"]] = rule["from"]
        self.assertEqual(sorted(by_port), [9090, 50051],
                         "no other port is reachable")
        (callers,) = by_port[50051]
        self.assertEqual(callers["podSelector"]["matchLabels"], {"chatgenius.io/db-client": "true"})
        (scraper,) = by_port[9090]
        self.assertEqual(scraper["podSelector"]["matchLabels"], {"app.kubernetes.io/name": "prometheus"})
        self.assertIn("matchLabels", scraper["namespaceSelector"], "one namespace, not all")
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports, {"grpc": 50051, "metrics": 9090})

    def test_service_and_disruption_budget_select_the_pods(self):
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        for svc in k8s("Service"):
            self.assertEqual(svc["spec"]["selector"], labels)
        (pdb,) = k8s("PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], labels)
        self.assertLess(pdb["spec"]["minAvailable"], self.deployment["spec"]["replicas"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
