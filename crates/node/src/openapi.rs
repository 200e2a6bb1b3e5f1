//! The nodes' HTTP APIs as OpenAPI 3.1 documents, generated from the very routers the nodes
//! serve (`utoipa_axum::OpenApiRouter`: a route exists only with its description), one per
//! listener and role, committed under `docs/openapi/` so that an agency's or a vendor's
//! developers can build clients without reading Rust. A test keeps them current
//! (`JUKI_BLESS=1 cargo test -p node` rewrites them).
//!
//! The public listeners also serve the C2SP tlog-tiles read API (`/registry/…`,
//! `/provisions/…`: `checkpoint`, `tile/…`), specified at c2sp.org/tlog-tiles rather than here.

use utoipa::openapi::{InfoBuilder, OpenApi};

/// Every document: its file name under `docs/openapi/` and the document.
pub fn documents() -> Vec<(&'static str, OpenApi)> {
    let describe = |mut api: OpenApi, title: &str, description: &str| {
        api.info = InfoBuilder::new()
            .title(title)
            .version("v1")
            .description(Some(format!(
                "{description}\n\nEvery listener is TLS 1.3 with certificates of the network's CA; \
                 the caller is whoever its verified client certificate names. Every error \
                 answer is an ErrorBody whose `code` is listed in docs/ERRORS.md."
            )))
            .build();
        api
    };
    vec![
        (
            "municipal-office.json",
            describe(
                crate::municipal::office_routes().split_for_parts().1,
                "juki municipal node: office API",
                "A town's office listener, for its own consoles (urn:juki:console:<code>): clerks' \
                 clients submit events signed with operator keys the node never holds, draw \
                 codes, look residents up and issue certificate copies.",
            ),
        ),
        (
            "municipal-network.json",
            describe(
                crate::municipal::network_routes().split_for_parts().1,
                "juki municipal node: inter-node API",
                "A town's network listener, for other nodes: wide-area copies for other towns, \
                 move notices from the national node, pulls by its upstream nodes.",
            ),
        ),
        (
            "prefecture-network.json",
            describe(
                crate::upstream::network_routes(false).split_for_parts().1,
                "juki prefecture node: inter-node API",
                "A prefecture's network listener: its towns' batches, status and alerts.",
            ),
        ),
        (
            "national-network.json",
            describe(
                crate::upstream::network_routes(true).split_for_parts().1,
                "juki national node: inter-node and provision API",
                "The national node's network listener: prefectures' batches, code blocks and \
                 move-out certificates for towns, and identity information for agencies.",
            ),
        ),
        (
            "signer-network.json",
            describe(
                crate::signer::network_routes().split_for_parts().1,
                "juki national signer",
                "The national signer's network listener, for the national node alone: it signs \
                 move-out certificates, move notices and code blocks with the national key, each \
                 only on evidence it checks itself (an operator-signed event with its proof to \
                 the town's witnessed checkpoint) or by its own allocation policy, and records \
                 each in its issuance log.",
            ),
        ),
        (
            "upstream-public.json",
            describe(
                crate::upstream::public_routes().split_for_parts().1,
                "juki prefecture and national nodes: public read endpoints",
                "Server TLS only, for anyone: the mirrors' latest checkpoints (and the provision \
                 log's tlog-tiles endpoints).",
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(api: &OpenApi) -> Vec<String> {
        let mut out = Vec::new();
        for (path, item) in &api.paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("DELETE", &item.delete),
            ] {
                if op.is_some() {
                    out.push(format!("{method} {path}"));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn every_route_of_every_listener_is_described() {
        let all: Vec<(&str, Vec<String>)> =
            documents().iter().map(|(name, api)| (*name, paths(api))).collect();
        let expect = |name: &str, routes: &[&str]| {
            let found = &all.iter().find(|(n, _)| *n == name).expect(name).1;
            let mut routes: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
            routes.sort();
            assert_eq!(found, &routes, "{name}");
        };
        expect(
            "municipal-office.json",
            &[
                "POST /v1/events",
                "POST /v1/pending",
                "GET /v1/pending",
                "POST /v1/pending/{id}/approve",
                "POST /v1/codes",
                "GET /v1/residents/{code}",
                "POST /v1/disclosures",
                "POST /v1/residents/{code}",
                "POST /v1/searches",
                "POST /v1/copies",
                "GET /v1/move-outs/{code}",
                "POST /v1/activations/{code}",
                "GET /v1/status",
                "GET /v1/alerts",
            ],
        );
        expect(
            "municipal-network.json",
            &[
                "POST /v1/wide-area/copies",
                "POST /v1/move-notices",
                "GET /v1/replication/batch",
                "GET /v1/status",
                "GET /v1/alerts",
                "GET /metrics",
            ],
        );
        expect(
            "prefecture-network.json",
            &[
                "POST /v1/replicate",
                "POST /v1/replicate/provisions",
                "GET /v1/status",
                "GET /v1/alerts",
                "POST /v1/alerts/reports",
                "POST /v1/heartbeats",
                "GET /metrics",
                "POST /v1/provide",
                "POST /v1/provide/match",
                "POST /v1/provide/batch",
                "GET /v1/purposes",
                "POST /v1/disclosures/provisions",
            ],
        );
        expect(
            "national-network.json",
            &[
                "POST /v1/replicate",
                "POST /v1/replicate/provisions",
                "GET /v1/status",
                "GET /v1/alerts",
                "POST /v1/alerts/reports",
                "POST /v1/heartbeats",
                "GET /metrics",
                "POST /v1/provide",
                "POST /v1/provide/match",
                "POST /v1/provide/batch",
                "GET /v1/purposes",
                "POST /v1/disclosures/provisions",
                "GET /v1/quarantine",
                "POST /v1/quarantine/release",
                "POST /v1/code-blocks",
                "GET /v1/move-outs/{code}",
                "POST /v1/activations",
            ],
        );
        expect(
            "signer-network.json",
            &[
                "POST /v1/sign/move-out",
                "POST /v1/sign/move-notice",
                "POST /v1/sign/code-block",
                "POST /v1/sign/activation",
                "POST /v1/sign/withdrawal",
                "GET /v1/status",
                "GET /v1/alerts",
                "GET /metrics",
            ],
        );
        expect("upstream-public.json", &["GET /mirrors/{code}/checkpoint"]);
    }

    #[test]
    fn every_operation_answers_errors_with_the_error_body() {
        for (name, api) in documents() {
            let json = serde_json::to_value(&api).unwrap();
            for (path, item) in json["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let refusal = &op["responses"]["4XX"]["content"]["application/json"]["schema"];
                    assert_eq!(
                        refusal["$ref"], "#/components/schemas/ErrorBody",
                        "{name}: {method} {path}"
                    );
                }
            }
            assert!(json["components"]["schemas"]["ErrorBody"].is_object(), "{name}");
        }
    }

    /// The committed documents are the generated ones; `JUKI_BLESS=1` rewrites them.
    #[test]
    fn the_committed_documents_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi");
        let bless = std::env::var_os("JUKI_BLESS").is_some();
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
        }
        for (name, api) in documents() {
            let generated = format!("{}\n", api.to_pretty_json().unwrap());
            let path = dir.join(name);
            if bless {
                std::fs::write(&path, &generated).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "docs/openapi/{name} is not current: run `JUKI_BLESS=1 cargo test -p node` and \
                 commit it"
            );
        }
    }
}
