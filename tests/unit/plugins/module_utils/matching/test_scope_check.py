"""ScopeCheck gives, for every user, the result a prediction of the whole scope gives, while users change.

The scopes are drawn from small pools of names, so that anchors, addresses, UPNs, MOERAs and cloud
candidates collide often (rule book §4); each draw is compared with the predictor run over the
whole scope.
"""

import random
import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import OnPremUser, Tenant
from ansible_collections.hybrid.identity.plugins.module_utils.matching._scope_check import ScopeCheck

TENANT = Tenant.from_dict({"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]})
NAMES = [f"n{number}" for number in range(12)]
DOMAINS = ["contoso.com", "contoso.local", "contoso.onmicrosoft.com"]
GUIDS = [str(uuid.UUID(int=number + 1)) for number in range(6)]


def address(draw: random.Random) -> str:
    return f"{draw.choice(NAMES)}@{draw.choice(DOMAINS[:2])}"


def onprem_user(draw: random.Random, number: int) -> OnPremUser:
    primary = address(draw)
    values = [f"SMTP:{primary}"] + [f"smtp:{address(draw)}" for _extra in range(draw.randrange(3))]
    return OnPremUser(
        distinguished_name=f"CN=u{number},OU=Staff,DC=contoso,DC=com",
        sam_account_name=f"u{number}",
        user_principal_name=f"{draw.choice(NAMES)}@{draw.choice(DOMAINS)}",
        mail=draw.choice([primary, None, address(draw)]),
        proxy_addresses=tuple(values) if draw.random() < 0.9 else (),
        mail_nickname=draw.choice([None, None, draw.choice(NAMES)]),
        object_guid=str(uuid.UUID(int=1000 + number)),
        # a copied mS-DS-ConsistencyGuid now and then: a source anchor two users share
        consistency_guid=draw.choice(GUIDS) if draw.random() < 0.2 else None,
    )


def cloud_users(draw: random.Random) -> list[dict]:
    users = []
    for number, name in enumerate(NAMES):
        users.append({
            "id": f"cloud-{number}",
            "userPrincipalName": f"{name}@contoso.com",
            "mail": f"{name}@contoso.com",
            "proxyAddresses": [f"SMTP:{name}@contoso.com", f"smtp:{draw.choice(NAMES)}@contoso.local"],
            "onPremisesImmutableId": None,
            "onPremisesSyncEnabled": None,
        })
    return users


def whole_scope(users, index):
    return predict(users, index, TENANT)


@pytest.mark.parametrize("seed", range(12))
def test_every_result_is_the_one_of_the_whole_scope_while_users_change(seed):
    draw = random.Random(seed)
    users = [onprem_user(draw, number) for number in range(40)]
    index = CloudIndex.build(cloud_users(draw))
    check = ScopeCheck(users, index, TENANT, "mS-DS-ConsistencyGuid")
    assert check.results(range(len(users))) == dict(enumerate(whole_scope(users, index)))
    for step in range(15):
        position = draw.randrange(len(users))
        users[position] = onprem_user(draw, position) if step % 3 else users[position]
        check.set_values(position, users[position])
        asked = draw.sample(range(len(users)), 10)
        expected = whole_scope(users, index)
        assert check.results(asked) == {number: expected[number] for number in asked}, f"step {step}"
    assert check.results(range(len(users))) == dict(enumerate(whole_scope(users, index)))


def test_users_sharing_no_value_with_a_changed_one_are_not_predicted_again():
    users = [OnPremUser(f"CN=u{number},DC=contoso,DC=com", f"u{number}", f"u{number}@contoso.com",
                        f"u{number}@contoso.com", (f"SMTP:u{number}@contoso.com",),
                        object_guid=str(uuid.UUID(int=number + 1))) for number in range(50)]
    check = ScopeCheck(users, CloudIndex.build([]), TENANT, "mS-DS-ConsistencyGuid")
    check.results(range(50))
    assert check.predicted == 50
    # u3 takes u7's address: u3 and u7 are predicted again, nobody else
    check.set_values(3, OnPremUser("CN=u3,DC=contoso,DC=com", "u3", "u3@contoso.com", "u7@contoso.com",
                                   ("SMTP:u7@contoso.com",), object_guid=users[3].object_guid))
    results = check.results(range(50))
    assert check.predicted == 52
    assert "duplicate_in_directory" in [finding.code for finding in results[7].findings]


def test_two_users_that_only_reach_one_cloud_user_are_predicted_together():
    # adele's primary is the cloud user's address, alex's primary its alias: they share no value, only the candidate
    cloud = [{"id": "cloud-adele", "userPrincipalName": "adele@contoso.com", "mail": "adele@contoso.com",
              "proxyAddresses": ["SMTP:adele@contoso.com", "smtp:a.vance@contoso.com"]}]
    adele = OnPremUser("CN=adele,DC=contoso,DC=com", "adele", "adele@contoso.com", "adele@contoso.com",
                       ("SMTP:adele@contoso.com",), object_guid=str(uuid.UUID(int=1)))
    alex = OnPremUser("CN=alex,DC=contoso,DC=com", "alex", "alex@contoso.com", "alex@contoso.com",
                      ("SMTP:alex@contoso.com",), object_guid=str(uuid.UUID(int=2)))
    index = CloudIndex.build(cloud)
    check = ScopeCheck([adele, alex], index, TENANT, "mS-DS-ConsistencyGuid")
    check.results(range(2))
    alex_now = OnPremUser("CN=alex,DC=contoso,DC=com", "alex", "alex@contoso.com", "a.vance@contoso.com",
                          ("SMTP:a.vance@contoso.com",), object_guid=alex.object_guid)
    check.set_values(1, alex_now)
    assert check.results(range(2)) == dict(enumerate(whole_scope([adele, alex_now], index)))
    assert "duplicate_candidate" in [finding.code for finding in check.results([1])[1].findings]
