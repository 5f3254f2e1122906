"""SCIM 2.0 provisioning (RFC 7643/7644): the /scim/v2 service and its bearer tokens."""
