//! The OpenAPI document (`GET /api/v1/openapi.json`) is a valid contract: unique operation ids, path parameters
//! that match their templates, the shared error body on every error response, and no operation the router
//! does not serve. CI also runs `openapi-spec-validator` on it and compiles a client generated from it.

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Error responses documented without the shared error body, each with its reason.
const OTHER_ERROR_BODIES: [(&str, &str, &str, &str); 2] = [
    (
        "get",
        "/readyz",
        "503",
        "load balancers read the readiness report itself",
    ),
    (
        "get",
        "/assets/{file}",
        "404",
        "an unknown asset is a bare 404, like a static file server's",
    ),
];

async fn document(app: &TestApp) -> Value {
    let response = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// `(method, path template, operation)` for every operation of the document.
fn operations(doc: &Value) -> Vec<(&'static str, &str, &Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .into_iter()
                .filter_map(move |method| Some((method, path.as_str(), item.get(method)?)))
        })
        .collect()
}

fn is_page(operation: &Value) -> bool {
    operation["tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t == "pages"))
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_operation_of_the_openapi_document_has_its_own_id(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;

    // Act
    let doc = document(&app).await;

    // Assert
    let mut seen: HashMap<&str, String> = HashMap::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
        if let Some(first) = seen.insert(id, format!("{method} {path}")) {
            panic!("operationId {id} is used by {first} and {method} {path}");
        }
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_path_parameters_of_each_operation_are_the_segments_of_its_path(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;

    // Act
    let doc = document(&app).await;

    // Assert
    for (method, path, operation) in operations(&doc) {
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: Vec<&Value> = [&doc["paths"][path]["parameters"], &operation["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter(|p| p["in"] == "path")
            .collect();
        for parameter in &declared {
            assert_eq!(
                parameter["required"], true,
                "{method} {path}: path parameter {} is required",
                parameter["name"]
            );
        }
        let declared: BTreeSet<&str> = declared.iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(
            declared, in_template,
            "{method} {path}: the path parameters are exactly the template's {{segments}}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_error_response_of_the_openapi_document_has_the_error_schema(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;

    // Act
    let doc = document(&app).await;

    // Assert
    let error = &doc["components"]["schemas"]["ApiError"];
    assert_eq!(error["required"], serde_json::json!(["error"]), "{error}");
    let mut errors = 0;
    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            errors += 1;
            if OTHER_ERROR_BODIES
                .iter()
                .any(|(m, p, s, _)| *m == method && *p == path && s == status)
            {
                continue;
            }
            if is_page(operation) {
                assert!(
                    response["content"]["text/html"].is_object(),
                    "{method} {path} {status}: a page's error is an HTML page"
                );
            } else {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ApiError",
                    "{method} {path} {status}: the shared error body"
                );
            }
        }
    }
    assert!(errors > 100, "the document lists its errors ({errors})");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_operation_of_the_openapi_document_is_served(pool: PgPool) {
    // Arrange: no credentials and no redirects, so each request only has to reach its route.
    let app = spawn_app(pool).await;
    let doc = document(&app).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // Act
    for (method, path, _) in operations(&doc) {
        let url = path
            .split('/')
            // A value no static route spells, so `{x}` routes match themselves.
            .map(|segment| match segment {
                s if s.starts_with('{') => "00000000-0000-0000-0000-000000000000",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        client
            .request(method, format!("{}{url}", app.address))
            .send()
            .await
            .expect("request sent");
    }

    // Assert: the request metrics name the route each request matched ("unmatched" for none).
    let metrics = api::metrics::handle().render();
    let served: BTreeSet<(String, String)> = metrics
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .filter_map(|line| Some((label(line, "method")?, label(line, "path")?)))
        .collect();
    for (method, path, _) in operations(&doc) {
        assert!(
            served.contains(&(method.to_uppercase(), path.to_owned())),
            "{method} {path} is documented but no route serves it"
        );
    }
}

/// The value of a Prometheus sample's label.
fn label(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}
