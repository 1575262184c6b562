# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  ad_server:
    description:
      - The domain controller to talk to, as a host name or an LDAP URL such as V(ldaps://dc01.contoso.com:636);
        or a list of them, tried in order.
      - A DC that can't be reached (refused, timed out after O(ad_timeout)) is passed over for the next one; a
        refused certificate or bind is not, since every DC would refuse it alike.
      - A URL's scheme must agree with O(ad_tls) (V(ldaps://) with V(ldaps), V(ldap://) with V(starttls) or V(none)).
      - The host name must be one that the server certificate names when O(ad_validate_certs=true).
      - Give O(ad_server) or O(ad_domain).
      - If not set, the environment variable E(HYBRID_AD_SERVER) is used (several separated by commas).
    type: list
    elements: str
  ad_domain:
    description:
      - The Active Directory DNS domain (V(contoso.com)) whose domain controllers to find, when O(ad_server) is not
        set, from the DNS SRV records C(_ldap._tcp.dc._msdcs.<domain>) that every DC registers.
      - They are tried in the order the records give (lowest priority first, then by weight), each on port 636 for
        O(ad_tls=ldaps) and on the record's port otherwise, passing over those that don't answer.
      - If not set, the environment variable E(HYBRID_AD_DOMAIN) is used.
    type: str
  ad_dns_server:
    description:
      - The DNS server to ask for O(ad_domain)'s SRV records, as an address with an optional port
        (V(10.0.0.10), V(10.0.0.10:53), V([fd00::10]:53)).
      - When not set, the name servers of the controller's C(/etc/resolv.conf).
      - If not set, the environment variable E(HYBRID_AD_DNS_SERVER) is used.
    type: str
  ad_username:
    description:
      - The account to bind as.
      - For O(ad_auth=simple) a user principal name (V(svc-hybrid@contoso.com)) or a distinguished name.
      - For O(ad_auth=ntlm) V(DOMAIN\\user).
      - Not used for O(ad_auth=kerberos), which binds as the principal of the ticket in the credential cache.
      - If not set, the environment variable E(HYBRID_AD_USERNAME) is used.
    type: str
  ad_password:
    description:
      - The password of O(ad_username).
      - Not used for O(ad_auth=kerberos); get the ticket with C(kinit) before the play.
      - If not set, the environment variable E(HYBRID_AD_PASSWORD) is used.
    type: str
  ad_auth:
    description:
      - How to authenticate.
      - V(simple) is an LDAP simple bind with O(ad_username) and O(ad_password).
      - V(ntlm) is NTLM in the Microsoft bind (called Sicily) that Active Directory accepts. Samba domain controllers
        do not accept it and drop the connection. It carries no channel binding token, so domain controllers that
        enforce LDAP channel binding refuse it; use V(kerberos), or V(simple) over LDAPS, there. The password's NT
        hash needs MD4, which Python's C(hashlib) lacks
        with OpenSSL 3; then the Python package C(pycryptodome) must be installed on the controller, or the module
        fails saying so.
      - V(kerberos) is SASL GSSAPI with a ticket already in the controller's credential cache (run C(kinit) before
        the play; E(KRB5CCNAME) and E(KRB5_CONFIG) are honoured). It needs the Python package C(gssapi) on the
        controller, or the module fails saying so. The ticket is for the service C(ldap/<host>) with the host
        exactly as written in O(ad_server), so name the domain controller by a host name its service principal
        names hold (normally its DNS name); an IP address is refused.
      - If not set, the environment variable E(HYBRID_AD_AUTH) is used.
    type: str
    choices: [simple, ntlm, kerberos]
    default: simple
  ad_tls:
    description:
      - How the connection is protected.
      - V(ldaps) connects to the TLS port (636 unless the URL names another).
      - V(starttls) connects to port 389 and upgrades with StartTLS before binding.
      - V(none) sends everything, the password included, in clear text and is refused unless O(ad_allow_plaintext=true).
      - If not set, the environment variable E(HYBRID_AD_TLS) is used.
    type: str
    choices: [ldaps, starttls, none]
    default: ldaps
  ad_allow_plaintext:
    description:
      - Allow O(ad_tls=none). Meant for isolated test labs only.
      - If not set, the environment variable E(HYBRID_AD_ALLOW_PLAINTEXT) is used.
    type: bool
    default: false
  ad_ca_cert:
    description:
      - A PEM file with the CA certificates that vouch for the domain controller's certificate.
      - When not set, the controller's default trust store is used.
      - A file that does not exist or holds no PEM certificate fails the task before any connection.
      - If not set, the environment variable E(HYBRID_AD_CA_CERT) is used.
    type: path
  ad_validate_certs:
    description:
      - Check the server certificate against the CA and the host name in O(ad_server).
      - Turning this off exposes the bind password to anyone who can intercept the connection; every task
        that turns it off warns so. It has no environment variable, so that it is always visible in the play.
    type: bool
    default: true
  ad_base_dn:
    description:
      - The base of every search.
      - Defaults to the domain's naming context (C(defaultNamingContext) from the rootDSE).
      - If not set, the environment variable E(HYBRID_AD_BASE_DN) is used.
    type: str
  ad_timeout:
    description:
      - Seconds to wait for the connection and for each LDAP response.
      - If not set, the environment variable E(HYBRID_AD_TIMEOUT) is used.
    type: int
    default: 30
requirements:
  - ldap3 >= 2.9 on the controller
  - gssapi on the controller for O(ad_auth=kerberos)
  - pycryptodome on the controller for O(ad_auth=ntlm) when Python's hashlib has no MD4 (OpenSSL 3)
notes:
  - The options can be set once for a play with C(module_defaults) and the action group C(group/hybrid.identity.ad).
"""
