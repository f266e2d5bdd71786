"""A Surplus client written from the published spec only (spec/README.md, spec/eip712.json,
spec/asyncapi.json): it posts a Supplier offer and a Customer offer on the offers channel with
each party's own broker token, then reads the allocations channel until the Allocator's signed
Allocation of that pair arrives, and checks the Allocator's EIP-712 signature.

Input: a JSON object on stdin (see main()), or `--attach SUPPLIER_CONFIG CUSTOMER_CONFIG` with the
two configs `./surplus market --keep-up` prints. Output: one line "RESULT <json>" on stdout (the
Pulsar client library logs there too)."""

import json
import os
import sys
import time
import urllib.request

import pulsar
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

SPEC = json.load(open(__file__.rsplit("/", 2)[0] + "/eip712.json"))
UINT = ("uint8", "uint32", "uint64", "uint256")


def typed(primary, body, domain):
    """The EIP-712 message of `body` as `primary` (only the fields the spec lists are signed)."""
    fields = SPEC["types"][primary]
    message = {}
    for f in fields:
        # An optional field the body omits (the Customer offer's requirement) is signed as 0.
        v = body.get(f["name"], 0) if f["type"] in UINT else body[f["name"]]
        message[f["name"]] = int(v) if f["type"] in UINT else v
    return {
        "types": {"EIP712Domain": SPEC["domainType"], primary: fields},
        "primaryType": primary,
        "domain": domain,
        "message": message,
    }


def digest(full):
    s = encode_typed_data(full_message=full)
    return "0x" + keccak(b"\x19" + s.version + s.header + s.body).hex()


def envelope(key, primary, body, domain):
    account = Account.from_key(key)
    full = typed(primary, body, domain)
    signed = Account.sign_message(encode_typed_data(full_message=full), key)
    sig = signed.signature.hex()
    return {
        "schemaVersion": 1,
        "type": primary,
        "body": body,
        "signer": account.address,
        "signature": sig if sig.startswith("0x") else "0x" + sig,
        "sentAtMs": int(time.time() * 1000),
    }, digest(full)


def publish(url, token, topic, message):
    client = pulsar.Client(url, authentication=pulsar.AuthenticationToken(token))
    try:
        producer = client.create_producer(topic)
        producer.send(json.dumps(message).encode("utf-8"))
        producer.close()
    finally:
        client.close()


def rpc(url, method):
    """One JSON-RPC call to the chain node (the EIP-712 domain needs its chain id)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["result"]


def from_edge_configs(supplier_path, customer_path, password):
    """main()'s input from two `surplus-edge` configs: the funded, admitted Supplier and Customer
    that `./surplus market --keep-up` prints for attaching. Only what the spec names is used: the
    broker URL, tenant and namespace (topics offers and allocations), the token, the keystore, the
    chain's JSON-RPC URL and the market contract (EIP-712 domain)."""
    def load(path):
        cfg = json.load(open(path))
        keystore = json.load(open(os.path.join(os.path.dirname(path), cfg["keystore"])))
        return cfg, "0x" + bytes(Account.decrypt(keystore, password)).hex()

    s_cfg, s_key = load(supplier_path)
    c_cfg, c_key = load(customer_path)
    p = c_cfg["pulsar"]
    topic = f"persistent://{p['tenant']}/{p['namespace']}/"
    start = int(time.time()) + 60
    return {
        "url": p["url"], "offers": topic + "offers", "allocations": topic + "allocations",
        "chainId": int(rpc(c_cfg["chain"]["rpcUrl"], "eth_chainId"), 16),
        "market": c_cfg["chain"]["market"], "mediator": s_cfg["supplier"]["mediators"][0],
        "start": start, "end": start + 600, "timeoutSeconds": 90,
        "supplier": {"key": s_key, "token": s_cfg["pulsar"]["token"]},
        "customer": {"key": c_key, "token": c_cfg["pulsar"]["token"]},
    }


def main():
    # --attach SUPPLIER_CONFIG CUSTOMER_CONFIG (keystore password in SURPLUS_KEYSTORE_PASSWORD),
    # or the input as a JSON object on stdin.
    if len(sys.argv) == 4 and sys.argv[1] == "--attach":
        cfg = from_edge_configs(sys.argv[2], sys.argv[3], os.environ["SURPLUS_KEYSTORE_PASSWORD"])
    else:
        cfg = json.load(sys.stdin)
    domain = {"name": SPEC["domain"]["name"], "version": SPEC["domain"]["version"],
              "chainId": int(cfg["chainId"]), "verifyingContract": cfg["market"]}
    supplier = Account.from_key(cfg["supplier"]["key"]).address
    customer = Account.from_key(cfg["customer"]["key"]).address
    start, end = int(cfg["start"]), int(cfg["end"])
    supplier_body = {
        "kind": "supplier", "schemaVersion": 1, "account": supplier, "nonce": "1",
        "capacityMips": 4000, "ramMb": 4096, "start": start, "end": end + 3600,
        "minPricePerMi": "1000000000", "mediators": [cfg["mediator"]],
    }
    customer_body = {
        "kind": "customer", "schemaVersion": 1, "account": customer, "nonce": "1",
        "serviceName": "people-counter", "serviceHash": "0x" + "ab" * 32,
        "miPerInput": 100, "ramMb": 1024, "inputsPerSecond": 10, "start": start, "end": end,
        "maxPricePerMi": "2000000000", "replicas": 1, "minReplicas": 1, "minServiceSeconds": 600,
        "mediators": [cfg["mediator"]],
    }
    s_env, s_id = envelope(cfg["supplier"]["key"], "SupplierOffer", supplier_body, domain)
    c_env, c_id = envelope(cfg["customer"]["key"], "CustomerOffer", customer_body, domain)
    publish(cfg["url"], cfg["supplier"]["token"], cfg["offers"], s_env)
    publish(cfg["url"], cfg["customer"]["token"], cfg["offers"], c_env)

    client = pulsar.Client(cfg["url"], authentication=pulsar.AuthenticationToken(cfg["customer"]["token"]))
    reader = client.create_reader(cfg["allocations"], pulsar.MessageId.earliest)
    deadline = time.time() + float(cfg.get("timeoutSeconds", 60))
    try:
        while time.time() < deadline:
            try:
                msg = reader.read_next(1000)
            except Exception:  # a timeout: nothing yet
                continue
            env = json.loads(msg.data())
            if env.get("type") != "Allocation" or env["body"].get("customerOffer") != c_id:
                continue
            a = env["body"]
            full = typed("Allocation", a, domain)
            recovered = Account.recover_message(encode_typed_data(full_message=full), signature=env["signature"])
            print("RESULT " + json.dumps({
                "supplierOfferId": s_id, "customerOfferId": c_id, "allocationId": digest(full),
                "allocation": a, "signer": env["signer"], "recovered": recovered,
            }))
            return 0
        print("RESULT " + json.dumps({"error": "no allocation of the pair before the deadline",
                          "supplierOfferId": s_id, "customerOfferId": c_id}))
        return 1
    finally:
        reader.close()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
