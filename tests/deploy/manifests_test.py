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
            self.assertEqual(sorted(s["secrets"]), ["ssh_client_key", "ssh_known_hosts"])
            self.assertEqual(s["depends_on"]["bastion"]["condition"], "service_healthy")
            self.assertNotIn("volumes", s, "replicas keep no state")
            keys.add(env["PAGE_TOKEN_KEY"])
        self.assertEqual(len(keys), 1, "replicas share PAGE_TOKEN_KEY")
        self.assertEqual(
            self.services["bastion"]["depends_on"]["postgres"]["condition"], "service_healthy")

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

    def test_three_replicas_with_native_grpc_probes(self):
        self.assertEqual(self.deployment["spec"]["replicas"], 3)
        self.assertEqual(self.container["livenessProbe"]["grpc"],
                         {"port": 50051, "service": "liveness"})
        self.assertEqual(self.container["readinessProbe"]["grpc"], {"port": 50051, "service": ""})

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

    def test_service_and_disruption_budget_select_the_pods(self):
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        for svc in k8s("Service"):
            self.assertEqual(svc["spec"]["selector"], labels)
        (pdb,) = k8s("PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], labels)
        self.assertLess(pdb["spec"]["minAvailable"], self.deployment["spec"]["replicas"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
