//! Schema-only types: the formats `resolve` checks, written as JSON Schema patterns so
//! an editor flags the same values the CLI refuses (`tests/schema.rs` checks that every
//! fixture the CLI refuses for its format is refused by the schema too).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

macro_rules! string_format {
    ($name:ident, $pattern:expr, $description:expr) => {
        pub struct $name;

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    };
}

string_format!(
    DnsLabel,
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "A DNS label: 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit."
);
string_format!(
    Size,
    "^(0|[1-9][0-9]{0,8})(M|MiB|G|GiB|T|TiB)$",
    "A whole number with a binary unit: `24GiB`, `24576MiB`, `64G`."
);
string_format!(
    Ipv4,
    "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$",
    "An IPv4 address, e.g. `192.168.1.10`."
);
string_format!(
    Ipv4Cidr,
    "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/([89]|[12][0-9]|30)$",
    "An IPv4 network: network address and prefix length 8-30, e.g. `192.168.1.0/24`."
);
string_format!(
    Semver,
    "^(0|[1-9][0-9]{0,8})[.](0|[1-9][0-9]{0,8})[.](0|[1-9][0-9]{0,8})$",
    "An exact version X.Y.Z."
);
string_format!(
    K3sVersion,
    "^v(0|[1-9][0-9]{0,8})[.](0|[1-9][0-9]{0,8})[.](0|[1-9][0-9]{0,8})[+]k3s[1-9][0-9]{0,8}$",
    "A k3s release, e.g. `v1.36.3+k3s1`."
);
string_format!(
    ProxmoxEndpoint,
    crate::values::PROXMOX_ENDPOINT_PATTERN,
    "The Proxmox API endpoint `https://HOST:PORT`, without a path or credentials."
);
string_format!(
    HttpUrl,
    "^https?://[^/?#@\\s]+([/?#][^\\s]*)?$",
    "An http(s) URL without credentials."
);
string_format!(
    ChartRepoUrl,
    "^(https?|oci)://[^/?#@\\s]+([/?#][^\\s]*)?$",
    "A Helm repository: an http(s) URL, or `oci://registry/path`, without credentials."
);
string_format!(
    ChartVersion,
    "^v?(0|[1-9][0-9]{0,8})[.](0|[1-9][0-9]{0,8})[.](0|[1-9][0-9]{0,8})$",
    "An exact chart version X.Y.Z, with a leading `v` where the chart publishes it so."
);
string_format!(
    HostName,
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$",
    "A fully qualified host name in lower case, e.g. `grafana.home.arpa`."
);
