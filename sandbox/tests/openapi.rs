//! OpenAPI conformance: `openapi/cfis-onboarding.yaml` as a test oracle.
//!
//! * `sandbox_conforms_to_the_openapi_description` starts a sandbox in-process and sends real requests for
//!   every documented operation and every status the sandbox can produce. Each request (headers, and the body
//!   the SDK sends: a `confirma::NewClient` serialized with serde_json) and each response (status listed for
//!   the operation, content type, body against the schema with `$ref`s resolved, documented headers such as
//!   `X-Request-Id` and `Retry-After`) is checked against the description. At the end every documented
//!   (operation, status) pair must have been observed, except the few listed as not producible.
//! * The other tests check the oracle itself: it rejects wrong bodies, statuses, content types and headers;
//!   its request schema agrees with the core's strict validation; its examples are valid; its `$ref`s resolve.
//!
//! Schemas are validated with the `jsonschema` crate (draft 2020-12, format assertions on, no resolvers):
//! the whole OpenAPI document is the root resource, so `#/components/...` references resolve inside it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use confirma::validation::{finnish_vat_number, parse_new_client, validate_new_client};
use confirma::{ClientDetails, Contact, ContactRole, NewClient, Service, ServiceType, ValidationMode};
use confirma_sandbox::{valid_business_id, Sandbox, SandboxConfig};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};

const SPEC_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/cfis-onboarding.yaml");

const CREATE: (&str, &str) = ("post", "/api/v1/partner/client");
const VALIDATE: (&str, &str) = ("get", "/api/v1/partner/validate");
const RENEW: (&str, &str) = ("get", "/api/v1/partner/renew");

/// Documented (operation, status) pairs the sandbox cannot produce, with the reason.
const NOT_PRODUCIBLE: &[(&str, &str, &str)] =
    &[("/api/v1/partner/client", "200", "the sandbox always answers 201; 200 is documented as accepted")];

// ---------------------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------------------

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A response as observed on the wire.
#[derive(Debug, Clone)]
struct Observed {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

struct Spec {
    doc: Value,
    /// (path, status) pairs checked successfully against an operation.
    seen: Mutex<BTreeSet<(String, String)>>,
}

impl Spec {
    fn load() -> Spec {
        let text = std::fs::read_to_string(SPEC_FILE).unwrap_or_else(|e| panic!("reading {SPEC_FILE}: {e}"));
        let doc: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {SPEC_FILE}: {e}"));
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "an OpenAPI 3.1 document");
        Spec { doc, seen: Mutex::new(BTreeSet::new()) }
    }

    fn get(&self, pointer: &str) -> Option<&Value> {
        self.doc.pointer(pointer)
    }

    fn at(&self, pointer: &str) -> &Value {
        self.get(pointer).unwrap_or_else(|| panic!("`{pointer}` is not in the OpenAPI document"))
    }

    /// Follows OpenAPI Reference Objects (`$ref` to `#/components/...`) and returns the target's pointer.
    fn deref(&self, pointer: String) -> Result<String, String> {
        let mut p = pointer;
        for _ in 0..16 {
            let node = self.get(&p).ok_or_else(|| format!("`{p}` is not in the document"))?;
            match node.get("$ref").and_then(Value::as_str) {
                Some(r) => p = r.strip_prefix('#').ok_or_else(|| format!("non-local $ref `{r}`"))?.to_string(),
                None => return Ok(p),
            }
        }
        Err(format!("$ref loop at `{p}`"))
    }

    /// Validates `instance` against the schema at `schema_pointer` (JSON pointer into the document).
    fn validate(&self, schema_pointer: &str, instance: &Value) -> Result<(), String> {
        self.at(schema_pointer);
        let mut root = self.doc.clone();
        root.as_object_mut().expect("document is an object").insert("$ref".into(), json!(format!("#{schema_pointer}")));
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema at `{schema_pointer}` does not compile: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(instance).map(|e| format!("{} (at `{}`)", e, e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("against `{schema_pointer}`: {}", errors.join("; ")))
        }
    }

    fn schema(&self, name: &str) -> String {
        format!("/components/schemas/{name}")
    }

    fn operation(&self, (method, path): (&str, &str)) -> String {
        let p = format!("/paths/{}/{method}", escape(path));
        self.at(&p);
        p
    }

    fn media_type(headers: &HeaderMap) -> Option<String> {
        headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    /// Checks a request: the security scheme's header, documented header parameters, and the body.
    fn check_request(&self, op: (&str, &str), headers: &HeaderMap, body: Option<&Value>) -> Result<(), String> {
        let op_ptr = self.operation(op);
        let operation = self.at(&op_ptr);
        // Security: every requirement names an apiKey scheme in a header; that header must be present.
        let requirements = operation["security"].as_array().ok_or("the operation has no security requirement")?;
        for req in requirements {
            for name in req.as_object().ok_or("bad security requirement")?.keys() {
                let scheme = self.at(&format!("/components/securitySchemes/{}", escape(name)));
                if scheme["type"] != "apiKey" || scheme["in"] != "header" {
                    return Err(format!("security scheme {name} is not an apiKey header"));
                }
                let header = scheme["name"].as_str().ok_or("scheme without a header name")?;
                let value = headers.get(header).ok_or_else(|| format!("missing {header} ({name})"))?;
                if value.is_empty() || !value.as_bytes().iter().all(u8::is_ascii_graphic) {
                    return Err(format!("{header} is not a visible ASCII token"));
                }
            }
        }
        // Header parameters.
        if let Some(params) = operation["parameters"].as_array() {
            for i in 0..params.len() {
                let p = self.deref(format!("{op_ptr}/parameters/{i}"))?;
                let param = self.at(&p);
                if param["in"] != "header" {
                    continue;
                }
                let name = param["name"].as_str().ok_or("parameter without a name")?;
                match headers.get(name) {
                    None if param["required"] == true => return Err(format!("missing required header {name}")),
                    None => {}
                    Some(v) => {
                        let s = v.to_str().map_err(|_| format!("header {name} is not text"))?;
                        self.validate(&format!("{p}/schema"), &json!(s)).map_err(|e| format!("header {name}: {e}"))?;
                    }
                }
            }
        }
        // Body.
        let rb = operation.get("requestBody");
        match (rb, body) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err("the operation takes no request body".into()),
            (Some(rb), None) if rb["required"] == true => Err("the request body is required".into()),
            (Some(_), None) => Ok(()),
            (Some(_), Some(body)) => {
                let rb_ptr = self.deref(format!("{op_ptr}/requestBody"))?;
                let mt = Self::media_type(headers).ok_or("request without Content-Type")?;
                let media = format!("{rb_ptr}/content/{}", escape(&mt));
                if self.get(&media).is_none() {
                    return Err(format!("request content type {mt} is not documented"));
                }
                self.validate(&format!("{media}/schema"), body)
            }
        }
    }

    /// Checks a response against the response object at `resp_ptr`: headers, content type and body.
    fn check_response_object(&self, resp_ptr: &str, obs: &Observed) -> Result<Value, String> {
        let resp_ptr = self.deref(resp_ptr.to_string())?;
        let resp = self.at(&resp_ptr);
        // Every response carries X-Request-Id, and the description must say so.
        if resp.pointer("/headers/X-Request-Id").is_none() {
            return Err(format!("`{resp_ptr}` does not document X-Request-Id"));
        }
        if let Some(hs) = resp["headers"].as_object() {
            for name in hs.keys() {
                let h_ptr = self.deref(format!("{resp_ptr}/headers/{}", escape(name)))?;
                let header = self.at(&h_ptr);
                match obs.headers.get(name.as_str()) {
                    None if header["required"] == true => return Err(format!("missing response header {name}")),
                    None => {}
                    Some(v) => {
                        let s = v.to_str().map_err(|_| format!("header {name} is not text"))?;
                        if header.get("schema").is_some() {
                            self.validate(&format!("{h_ptr}/schema"), &json!(s))
                                .map_err(|e| format!("header {name}: {e}"))?;
                        }
                    }
                }
            }
        }
        match resp.get("content") {
            None => {
                if obs.body.is_empty() {
                    Ok(Value::Null)
                } else {
                    Err("a body where none is documented".into())
                }
            }
            Some(content) => {
                let mt = Self::media_type(&obs.headers).ok_or("response without Content-Type")?;
                if content.get(&mt).is_none() {
                    let documented: Vec<&String> = content.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                    return Err(format!("content type {mt} is not documented (documented: {documented:?})"));
                }
                let body: Value = serde_json::from_slice(&obs.body)
                    .map_err(|e| format!("body is not JSON ({e}): {}", String::from_utf8_lossy(&obs.body)))?;
                self.validate(&format!("{resp_ptr}/content/{}/schema", escape(&mt)), &body)?;
                Ok(body)
            }
        }
    }

    /// Checks a response of an operation: the status must be listed for it.
    fn check_response(&self, op: (&str, &str), obs: &Observed) -> Result<Value, String> {
        let op_ptr = self.operation(op);
        let status = obs.status.to_string();
        let resp_ptr = format!("{op_ptr}/responses/{status}");
        if self.get(&resp_ptr).is_none() {
            return Err(format!("status {status} is not documented for {} {}", op.0.to_uppercase(), op.1));
        }
        let body = self.check_response_object(&resp_ptr, obs)?;
        self.seen.lock().unwrap().insert((op.1.to_string(), status));
        Ok(body)
    }

    /// Every documented (path, status) pair.
    fn documented(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in self.at("/paths").as_object().unwrap() {
            for (_method, op) in item.as_object().unwrap() {
                for status in
                    op["responses"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
                {
                    out.insert((path.clone(), status));
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

/// A new client as the SDK builds it (typed), valid in strict mode.
fn new_client(partner_code: &str, business_id: &str) -> NewClient {
    NewClient {
        service: Service { service_type: ServiceType::Lifecycle, partner_code: partner_code.to_string() },
        client: ClientDetails {
            name: "Testiasiakas Oy".into(),
            business_code: business_id.to_string(),
            vat_reg_nbr: Some(finnish_vat_number(business_id)),
            postal_address: "Testikuja 7".into(),
            postal_code: "00100".into(),
            postal_district: "HELSINKI".into(),
            country_code: "FI".into(),
            telephone: Some("+358 9 123 4567".into()),
            email: "laskutus@testiasiakas.fi".into(),
            website: Some("https://www.testiasiakas.fi".into()),
            language_code: "FI".into(),
        },
        contacts: vec![
            Contact {
                role: ContactRole::Primary,
                name: "Maija Meikäläinen".into(),
                email: "maija@testiasiakas.fi".into(),
                telephone: Some("+358 40 123 4567".into()),
            },
            Contact {
                role: ContactRole::Technical,
                name: "Teemu Teknikko".into(),
                email: "teemu@testiasiakas.fi".into(),
                telephone: None,
            },
        ],
    }
}

/// The body the SDK sends for a new client: `serde_json` of the typed model, after strict validation.
fn sdk_body(c: &NewClient) -> Value {
    validate_new_client(c, ValidationMode::Strict).expect("the test's client is valid in strict mode");
    serde_json::from_slice(&serde_json::to_vec(c).unwrap()).unwrap()
}

fn request_id() -> String {
    // The SDK's shape: `cfsdk-` + 16 hex digits.
    format!("cfsdk-{:016x}", fastrand::u64(..))
}

struct Harness {
    spec: Spec,
    http: reqwest::Client,
    base: String,
}

/// What to put in the request body.
enum Body<'a> {
    None,
    Json(&'a Value),
    Raw(Vec<u8>),
}

impl Harness {
    /// Sends a request; returns the observed response. `check_request` tells whether the request itself must
    /// conform (`Some(true)`), must not (`Some(false)`), or is not checked (`None`, e.g. a non-JSON body).
    async fn send(
        &self,
        op: (&str, &str),
        token: Option<&str>,
        body: Body<'_>,
        expect_conforming: Option<bool>,
    ) -> Observed {
        let rid = request_id();
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(HeaderName::from_static("x-request-id"), HeaderValue::from_str(&rid).unwrap());
        if let Some(t) = token {
            headers.insert(HeaderName::from_static("x-api-key"), HeaderValue::from_str(t).unwrap());
        }
        let bytes = match &body {
            Body::None => None,
            Body::Json(v) => Some(serde_json::to_vec(v).unwrap()),
            Body::Raw(b) => Some(b.clone()),
        };
        if bytes.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(expected) = expect_conforming {
            let json_body = match &body {
                Body::Json(v) => Some(*v),
                _ => None,
            };
            let verdict = self.spec.check_request(op, &headers, json_body);
            match (expected, verdict) {
                (true, Err(e)) => panic!("{} {}: the request does not conform: {e}", op.0, op.1),
                (false, Ok(())) => {
                    panic!("{} {}: the request was expected NOT to conform to the description", op.0, op.1)
                }
                _ => {}
            }
        }
        let method = reqwest::Method::from_bytes(op.0.to_ascii_uppercase().as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{}", self.base, op.1)).headers(headers);
        if let Some(b) = bytes {
            req = req.body(b);
        }
        let resp = req.send().await.expect("the sandbox answers");
        let obs = Observed {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap().to_vec(),
        };
        // X-Request-Id: present always, and (decision) the caller's id echoed back.
        let echoed = obs.headers.get("x-request-id").and_then(|v| v.to_str().ok());
        assert_eq!(echoed, Some(rid.as_str()), "{} {} -> {}: X-Request-Id not echoed", op.0, op.1, obs.status);
        obs
    }

    /// Sends, checks the response against the operation and its expected status, returns the body.
    async fn call(
        &self,
        op: (&str, &str),
        token: Option<&str>,
        body: Body<'_>,
        conforming: Option<bool>,
        status: u16,
    ) -> (Observed, Value) {
        let obs = self.send(op, token, body, conforming).await;
        assert_eq!(
            obs.status,
            status,
            "{} {}: unexpected status; body: {}",
            op.0,
            op.1,
            String::from_utf8_lossy(&obs.body)
        );
        let body = self.spec.check_response(op, &obs).unwrap_or_else(|e| {
            panic!(
                "{} {} -> {}: the response does not conform: {e}\nbody: {}",
                op.0,
                op.1,
                obs.status,
                String::from_utf8_lossy(&obs.body)
            )
        });
        (obs, body)
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let resp = self.http.post(format!("{}{path}", self.base)).json_body(&body).send().await.expect("admin call");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "admin {path} {body}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn fault(&self, path: &str, status: u16, retry_after: Option<u64>) {
        let mut f = json!({"path": path, "kind": "status", "status": status});
        if let Some(s) = retry_after {
            f["retryAfter"] = json!(s);
        }
        self.admin("/_sandbox/faults", f).await;
    }
}

/// `reqwest` without its `json` feature: a small helper.
trait JsonBody {
    fn json_body(self, v: &Value) -> Self;
}
impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header(CONTENT_TYPE, "application/json").body(serde_json::to_vec(v).unwrap())
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().expect("http client")
}

fn errors_keys(body: &Value) -> Vec<String> {
    body["errors"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------
// The sandbox against the description
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_conforms_to_the_openapi_description() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let h = Harness { spec: Spec::load(), http: http_client(), base: sandbox.base_url() };
    let ppt = sandbox.provisioning_token().to_string();
    let partner = sandbox.partner_code().to_string();

    // --- POST /api/v1/partner/client ---------------------------------------------------------------------
    let bid = valid_business_id(4242);
    let client = sdk_body(&new_client(&partner, &bid));
    let (_, created) = h.call(CREATE, Some(&ppt), Body::Json(&client), Some(true), 201).await;
    let token = created["accessToken"].as_str().unwrap().to_string();
    assert!(created["tokenExpiresAt"].is_string(), "the default sandbox issues expiring tokens");

    // A second client, plain (only required fields, no optional ones).
    let mut minimal = new_client(&partner, &valid_business_id(4243));
    minimal.client.vat_reg_nbr = None;
    minimal.client.telephone = None;
    minimal.client.website = None;
    minimal.contacts.truncate(1);
    let (_, created2) = h.call(CREATE, Some(&ppt), Body::Json(&sdk_body(&minimal)), Some(true), 201).await;
    let token2 = created2["accessToken"].as_str().unwrap().to_string();

    // 409: the same business code again.
    let (_, conflict) = h.call(CREATE, Some(&ppt), Body::Json(&client), Some(true), 409).await;
    assert_eq!(conflict["status"], 409);

    // 400: requests the description rejects are rejected by the sandbox too, with the field paths.
    let fresh = || sdk_body(&new_client(&partner, &valid_business_id(5000)));
    let mut bad_email = fresh();
    bad_email["client"]["email"] = json!("not-an-email");
    let mut unknown_field = fresh();
    unknown_field["client"]["emial"] = json!("x@y.fi");
    let mut no_primary = fresh();
    no_primary["contacts"] = json!([{"role": "TECHNICAL", "name": "T", "email": "t@y.fi"}]);
    let mut bad_postal = fresh();
    bad_postal["client"]["postalCode"] = json!("1234");
    let mut missing_client = fresh();
    missing_client.as_object_mut().unwrap().remove("client");
    for (body, field) in [
        (&bad_email, "client.email"),
        (&unknown_field, "client.emial"),
        (&no_primary, "contacts"),
        (&bad_postal, "client.postalCode"),
        (&missing_client, "client"),
    ] {
        let (_, problem) = h.call(CREATE, Some(&ppt), Body::Json(body), Some(false), 400).await;
        assert!(errors_keys(&problem).contains(&field.to_string()), "{field} in {problem}");
    }
    // 400 for rules JSON Schema cannot express (the request conforms, the service still rejects it).
    let mut bad_check_digit = fresh();
    let wrong = format!("{}-{}", &bid[..7], (bid.as_bytes()[8] - b'0' + 1) % 10);
    bad_check_digit["client"]["businessCode"] = json!(wrong);
    bad_check_digit["client"]["vatRegNbr"] = json!(finnish_vat_number(&wrong));
    let mut other_partner = fresh();
    other_partner["service"]["partnerCode"] = json!("NOT-OURS");
    for (body, field) in [(&bad_check_digit, "client.businessCode"), (&other_partner, "service.partnerCode")] {
        let (_, problem) = h.call(CREATE, Some(&ppt), Body::Json(body), Some(true), 400).await;
        assert!(errors_keys(&problem).contains(&field.to_string()), "{field} in {problem}");
    }
    // 400 for a body that is not JSON at all (`$`).
    let (_, problem) = h.call(CREATE, Some(&ppt), Body::Raw(b"{\"service\":".to_vec()), None, 400).await;
    assert_eq!(errors_keys(&problem), ["$"]);

    // 401 without a token and with an unknown one; 403 with a client token.
    h.call(CREATE, None, Body::Json(&fresh()), Some(false), 401).await;
    h.call(CREATE, Some("cfis_ppt_unknown0000000000000000"), Body::Json(&fresh()), Some(true), 401).await;
    h.call(CREATE, Some(&token), Body::Json(&fresh()), Some(true), 403).await;

    // 413: a body over the sandbox's limit.
    let mut huge = fresh();
    huge["client"]["name"] = json!("x".repeat(70 * 1024));
    h.call(CREATE, Some(&ppt), Body::Json(&huge), Some(true), 413).await;

    // 429 (with Retry-After), 500 and 503 as the sandbox injects them.
    h.fault(CREATE.1, 429, Some(2)).await;
    let (obs, _) = h.call(CREATE, Some(&ppt), Body::Json(&fresh()), Some(true), 429).await;
    assert_eq!(obs.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
    h.fault(CREATE.1, 500, None).await;
    h.call(CREATE, Some(&ppt), Body::Json(&fresh()), Some(true), 500).await;
    h.fault(CREATE.1, 503, Some(1)).await;
    h.call(CREATE, Some(&ppt), Body::Json(&fresh()), Some(true), 503).await;
    // After the faults, the same body creates the client.
    h.call(CREATE, Some(&ppt), Body::Json(&fresh()), Some(true), 201).await;

    // --- GET /api/v1/partner/validate --------------------------------------------------------------------
    let (_, status) = h.call(VALIDATE, Some(&token), Body::None, Some(true), 200).await;
    assert_eq!(status, json!({"isValid": true, "message": "Token is valid"}));
    h.call(VALIDATE, None, Body::None, Some(false), 401).await;
    h.call(VALIDATE, Some("cfis_at_unknown"), Body::None, Some(true), 401).await;
    h.call(VALIDATE, Some(&ppt), Body::None, Some(true), 403).await;
    h.fault(VALIDATE.1, 400, None).await;
    h.call(VALIDATE, Some(&token), Body::None, Some(true), 400).await;
    h.fault(VALIDATE.1, 429, Some(3)).await;
    let (obs, _) = h.call(VALIDATE, Some(&token), Body::None, Some(true), 429).await;
    assert_eq!(obs.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("3"));
    h.fault(VALIDATE.1, 503, None).await;
    h.call(VALIDATE, Some(&token), Body::None, Some(true), 503).await;

    // Expired: 200 {isValid: false} by default, 401 when configured.
    h.admin("/_sandbox/clock", json!({"advanceSeconds": 91 * 24 * 3600})).await;
    let (_, status) = h.call(VALIDATE, Some(&token), Body::None, Some(true), 200).await;
    assert_eq!(status, json!({"isValid": false, "message": "Token has expired"}));
    h.admin("/_sandbox/config", json!({"expiredStatus": 401})).await;
    let (_, problem) = h.call(VALIDATE, Some(&token), Body::None, Some(true), 401).await;
    assert!(problem["detail"].as_str().unwrap_or("").to_lowercase().contains("expired"), "{problem}");
    h.admin("/_sandbox/config", json!({"expiredStatus": 200})).await;

    // --- GET /api/v1/partner/renew -----------------------------------------------------------------------
    // The default shape, for an expired token.
    let (_, renewed) = h.call(RENEW, Some(&token), Body::None, Some(true), 200).await;
    let new_token = renewed["accessToken"].as_str().expect("accessToken shape").to_string();
    assert!(renewed["tokenExpiresAt"].is_string() && renewed["message"].is_string(), "{renewed}");
    h.spec.validate(&h.spec.schema("RenewedToken"), &renewed).unwrap();
    h.spec.validate(&h.spec.schema("PortalRenewMessage"), &renewed).expect_err("not the portal shape");
    // The old token is gone (no grace period by default).
    h.call(VALIDATE, Some(&token), Body::None, Some(true), 401).await;
    h.call(RENEW, Some(&token), Body::None, Some(true), 401).await;
    h.call(VALIDATE, Some(&new_token), Body::None, Some(true), 200).await;
    // The portal's shape.
    h.admin("/_sandbox/config", json!({"renewShape": "message"})).await;
    let (_, renewed) = h.call(RENEW, Some(&token2), Body::None, Some(true), 200).await;
    let portal_token = renewed["Message"].as_str().expect("Message shape").to_string();
    h.spec.validate(&h.spec.schema("PortalRenewMessage"), &renewed).unwrap();
    h.spec.validate(&h.spec.schema("RenewedToken"), &renewed).expect_err("not the accessToken shape");
    let (_, status) = h.call(VALIDATE, Some(&portal_token), Body::None, Some(true), 200).await;
    assert_eq!(status["isValid"], true);
    h.admin("/_sandbox/config", json!({"renewShape": "accessToken"})).await;
    h.call(RENEW, None, Body::None, Some(false), 401).await;
    h.call(RENEW, Some(&ppt), Body::None, Some(true), 403).await;
    h.fault(RENEW.1, 429, Some(1)).await;
    h.call(RENEW, Some(&new_token), Body::None, Some(true), 429).await;
    h.fault(RENEW.1, 503, Some(1)).await;
    h.call(RENEW, Some(&new_token), Body::None, Some(true), 503).await;
    // Nothing was rotated by the faults: the token still renews.
    h.call(RENEW, Some(&new_token), Body::None, Some(true), 200).await;

    // --- Paths and methods that are not operations ------------------------------------------------------
    for path in ["/api/v1/partner/nothing-here", "/api/v2/partner/validate", "/"] {
        let obs = h.send(("get", path), Some(&token2), Body::None, None).await;
        assert_eq!(obs.status, 404, "{path}");
        h.spec
            .check_response_object("/components/responses/NotFound", &obs)
            .unwrap_or_else(|e| panic!("404 {path}: {e}"));
    }
    for (method, path, allow) in [("get", CREATE.1, "POST"), ("post", VALIDATE.1, "GET"), ("delete", RENEW.1, "GET")] {
        let obs = h.send((method, path), Some(&ppt), Body::None, None).await;
        assert_eq!(obs.status, 405, "{method} {path}");
        assert_eq!(obs.headers.get("allow").and_then(|v| v.to_str().ok()), Some(allow));
        h.spec
            .check_response_object("/components/responses/MethodNotAllowed", &obs)
            .unwrap_or_else(|e| panic!("405 {method} {path}: {e}"));
    }

    // --- Coverage: every documented status was produced and conformed -----------------------------------
    let seen = h.spec.seen.lock().unwrap().clone();
    let missing: Vec<_> = h
        .spec
        .documented()
        .into_iter()
        .filter(|pair| !seen.contains(pair))
        .filter(|(p, s)| !NOT_PRODUCIBLE.iter().any(|(np, ns, _)| np == p && ns == s))
        .collect();
    assert!(missing.is_empty(), "documented but never observed: {missing:?}");
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// The oracle can fail
// ---------------------------------------------------------------------------------------------------------

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn observed(status: u16, hs: &[(&str, &str)], body: &str) -> Observed {
    Observed { status, headers: headers(hs), body: body.as_bytes().to_vec() }
}

#[test]
fn wrong_request_bodies_fail_validation() {
    let spec = Spec::load();
    let new_client_schema = spec.schema("NewClient");
    let good = sdk_body(&new_client("QUICK3", "1572860-0"));
    spec.validate(&new_client_schema, &good).expect("the SDK's body conforms");
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        ("contacts missing", Box::new(|v| drop(v.as_object_mut().unwrap().remove("contacts")))),
        ("unknown top-level field", Box::new(|v| v["extra"] = json!(1))),
        ("service.type unknown", Box::new(|v| v["service"]["type"] = json!("FACTORING"))),
        ("service.type lower case", Box::new(|v| v["service"]["type"] = json!("lifecycle"))),
        ("partnerCode blank", Box::new(|v| v["service"]["partnerCode"] = json!("  "))),
        ("name a number", Box::new(|v| v["client"]["name"] = json!(5))),
        ("email invalid", Box::new(|v| v["client"]["email"] = json!("a@@b.fi"))),
        ("FI business code without check digit", Box::new(|v| v["client"]["businessCode"] = json!("1572860"))),
        ("portal business code", Box::new(|v| v["client"]["businessCode"] = json!("123456-7"))),
        ("portal VAT number", Box::new(|v| v["client"]["vatRegNbr"] = json!("FI1234567"))),
        ("FI postal code 4 digits", Box::new(|v| v["client"]["postalCode"] = json!("0010"))),
        ("country code 3 letters", Box::new(|v| v["client"]["countryCode"] = json!("FIN"))),
        ("website ftp", Box::new(|v| v["client"]["website"] = json!("ftp://example.fi"))),
        (
            "two PRIMARY contacts",
            Box::new(|v| {
                let c = v["contacts"][0].clone();
                v["contacts"].as_array_mut().unwrap().push(c);
            }),
        ),
        ("no PRIMARY contact", Box::new(|v| drop(v["contacts"].as_array_mut().unwrap().remove(0)))),
        ("role lower case", Box::new(|v| v["contacts"][0]["role"] = json!("primary"))),
        ("contact without email", Box::new(|v| drop(v["contacts"][0].as_object_mut().unwrap().remove("email")))),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(spec.validate(&new_client_schema, &bad).is_err(), "{what}: the description accepted {bad}");
    }
    // The request check also looks at headers.
    let ok = headers(&[
        ("x-api-key", "cfis_ppt_x"),
        ("content-type", "application/json"),
        ("x-request-id", "cfsdk-0011223344556677"),
    ]);
    spec.check_request(CREATE, &ok, Some(&good)).unwrap();
    let no_key = headers(&[("content-type", "application/json")]);
    assert!(spec.check_request(CREATE, &no_key, Some(&good)).is_err(), "missing X-Api-Key");
    let text = headers(&[("x-api-key", "k"), ("content-type", "text/plain")]);
    assert!(spec.check_request(CREATE, &text, Some(&good)).is_err(), "undocumented request content type");
    assert!(spec.check_request(CREATE, &ok, None).is_err(), "missing required body");
    assert!(spec.check_request(VALIDATE, &ok, Some(&good)).is_err(), "validate takes no body");
    let bad_rid = headers(&[("x-api-key", "k"), ("x-request-id", "has space")]);
    assert!(spec.check_request(VALIDATE, &bad_rid, None).is_err(), "malformed X-Request-Id");
}

#[test]
fn wrong_responses_fail_validation() {
    let spec = Spec::load();
    let json_h = [("content-type", "application/json; charset=utf-8"), ("x-request-id", "r1")];
    let problem_h = [("content-type", "application/problem+json"), ("x-request-id", "r1")];
    let created = r#"{"clientId":"cl_1","customerCode":"CF1","paymentReferencePrefix":"1","accessToken":"cfis_at_x","tokenExpiresAt":"2027-01-01T00:00:00Z"}"#;
    spec.check_response(CREATE, &observed(201, &json_h, created)).expect("a good 201");
    spec.check_response(CREATE, &observed(200, &json_h, created)).expect("200 is accepted too");
    let problem =
        |status: u16| format!(r#"{{"type":"about:blank","title":"T","status":{status},"detail":"d","traceId":"r1"}}"#);
    spec.check_response(VALIDATE, &observed(401, &problem_h, &problem(401))).expect("a good 401");
    // The contract: 429 and 503 *may* carry Retry-After.
    spec.check_response(VALIDATE, &observed(429, &problem_h, &problem(429))).expect("429 without Retry-After");
    let with_date = [
        ("content-type", "application/problem+json"),
        ("x-request-id", "r"),
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ];
    spec.check_response(RENEW, &observed(503, &with_date, &problem(503))).expect("Retry-After as an HTTP date");

    let cases: Vec<(&str, (&str, &str), Observed)> = vec![
        ("status not documented for the operation", VALIDATE, observed(418, &problem_h, &problem(418))),
        ("409 is not a validate status", VALIDATE, observed(409, &problem_h, &problem(409))),
        (
            "X-Request-Id missing",
            VALIDATE,
            observed(401, &[("content-type", "application/problem+json")], &problem(401)),
        ),
        (
            "wrong content type",
            VALIDATE,
            observed(401, &[("content-type", "text/html"), ("x-request-id", "r")], "<html></html>"),
        ),
        ("problem status differs from the HTTP status", VALIDATE, observed(401, &problem_h, &problem(400))),
        (
            "problem without traceId",
            VALIDATE,
            observed(403, &problem_h, r#"{"type":"about:blank","title":"T","status":403}"#),
        ),
        ("400 without errors", CREATE, observed(400, &problem_h, &problem(400))),
        (
            "errors not arrays",
            CREATE,
            observed(
                400,
                &problem_h,
                r#"{"type":"about:blank","title":"T","status":400,"traceId":"x","errors":{"client.email":"bad"}}"#,
            ),
        ),
        (
            "Retry-After not seconds or a date",
            VALIDATE,
            observed(
                429,
                &[("content-type", "application/problem+json"), ("x-request-id", "r"), ("retry-after", "soon")],
                &problem(429),
            ),
        ),
        (
            "created without accessToken",
            CREATE,
            observed(201, &json_h, r#"{"clientId":"c","customerCode":"C","paymentReferencePrefix":"1"}"#),
        ),
        (
            "created with a bad expiry",
            CREATE,
            observed(201, &json_h, &created.replace("2027-01-01T00:00:00Z", "next tuesday")),
        ),
        (
            "created with a token containing a space",
            CREATE,
            observed(201, &json_h, &created.replace("cfis_at_x", "cfis at x")),
        ),
        ("isValid as a string", VALIDATE, observed(200, &json_h, r#"{"isValid":"true","message":"Token is valid"}"#)),
        ("validate without message", VALIDATE, observed(200, &json_h, r#"{"isValid":true}"#)),
        ("renew without a token", RENEW, observed(200, &json_h, r#"{"message":"Token renewed"}"#)),
        ("renew Message that is not a token", RENEW, observed(200, &json_h, r#"{"Message":"Token renewed"}"#)),
        ("renew body not JSON", RENEW, observed(200, &json_h, "cfis_at_raw")),
        ("renew 409 undocumented", RENEW, observed(409, &problem_h, &problem(409))),
    ];
    for (what, op, obs) in cases {
        assert!(spec.check_response(op, &obs).is_err(), "{what}: the description accepted it");
    }
    // Both renew shapes conform.
    spec.check_response(
        RENEW,
        &observed(
            200,
            &json_h,
            r#"{"accessToken":"t1","tokenExpiresAt":"2027-01-01T00:00:00Z","message":"Token renewed"}"#,
        ),
    )
    .unwrap();
    spec.check_response(RENEW, &observed(200, &json_h, r#"{"Message":"t1"}"#)).unwrap();
}

/// The request schema agrees with the core's strict validation: what the SDK accepts and sends conforms,
/// and what it rejects the description rejects, except for rules JSON Schema cannot express.
#[test]
fn request_schema_agrees_with_core_validation() {
    let spec = Spec::load();
    let schema = spec.schema("NewClient");
    let base = sdk_body(&new_client("QUICK3", "1572860-0"));
    // (pointer, value; null = remove)
    let cases: Vec<(&str, Value)> = vec![
        ("/client/email", json!("a.b+c@example.fi")),
        ("/client/email", json!("x@localhost")),
        ("/client/email", json!("")),
        ("/client/email", json!("a")),
        ("/client/email", json!("a@")),
        ("/client/email", json!("@b.fi")),
        ("/client/email", json!("a b@c.fi")),
        ("/client/email", json!("a@b..fi")),
        ("/client/email", json!("a@-b.fi")),
        ("/client/email", json!("a@b-.fi")),
        ("/client/email", json!(format!("{}@example.fi", "a".repeat(250)))),
        ("/client/website", json!("https://www.example.fi/x?y=1")),
        ("/client/website", json!("www.example.fi")),
        ("/client/website", json!("HTTP://WWW.EXAMPLE.FI")),
        ("/client/website", json!("http://localhost:8080/a")),
        ("/client/website", json!("")),
        ("/client/website", json!("ftp://example.fi")),
        ("/client/website", json!("not a url")),
        ("/client/website", json!("http://")),
        ("/client/website", json!("https://example")),
        ("/client/postalCode", json!("00100")),
        ("/client/postalCode", json!("0010")),
        ("/client/postalCode", json!("001000")),
        ("/client/postalCode", json!("0010a")),
        ("/client/postalCode", json!(" ")),
        ("/client/businessCode", json!("123456-7")),
        ("/client/businessCode", json!("1572860")),
        ("/client/businessCode", json!("1572860_0")),
        ("/client/vatRegNbr", json!("fi15728600")),
        ("/client/vatRegNbr", json!("FI1234567")),
        ("/client/vatRegNbr", json!("SE15728600")),
        ("/client/vatRegNbr", json!("")),
        ("/client/vatRegNbr", Value::Null),
        ("/client/telephone", json!("")),
        ("/client/telephone", Value::Null),
        ("/client/countryCode", json!("fi")),
        ("/client/countryCode", json!("FIN")),
        ("/client/countryCode", json!("")),
        ("/client/languageCode", json!("SV")),
        ("/client/languageCode", json!("dk")),
        ("/client/languageCode", json!("DA")),
        ("/client/languageCode", json!("FIN")),
        ("/client/name", json!(" ")),
        ("/client/name", Value::Null),
        ("/service/type", json!("INTERMEDIATION")),
        ("/service/type", json!("COOP")),
        ("/service/type", json!("FACTORING")),
        ("/service/partnerCode", json!("")),
        ("/contacts", json!([])),
        ("/contacts", json!([{"role": "TECHNICAL", "name": "T", "email": "t@b.fi"}])),
        (
            "/contacts",
            json!([{"role": "PRIMARY", "name": "P", "email": "p@b.fi"}, {"role": "ACCOUNTANT", "name": "A", "email": "a@b.fi", "telephone": "1"}]),
        ),
        (
            "/contacts",
            json!([{"role": "PRIMARY", "name": "P", "email": "p@b.fi"}, {"role": "PRIMARY", "name": "Q", "email": "q@b.fi"}]),
        ),
        ("/contacts", json!([{"role": "BOSS", "name": "P", "email": "p@b.fi"}])),
        ("/contacts", json!([{"role": "PRIMARY", "name": " ", "email": "p@b.fi"}])),
        ("/contacts", json!([{"role": "PRIMARY", "name": "P", "email": "p@b"}])),
        ("/contacts", json!([{"role": "PRIMARY", "name": "P", "email": "nope"}])),
        ("/client/foo", json!("unknown field")),
    ];
    // Other countries: postal code formats by country (business code and VAT rules are FI only).
    let countries: Vec<(&str, &str)> = vec![
        ("SE", "114 55"),
        ("SE", "11455"),
        ("SE", "1145"),
        ("NO", "0150"),
        ("NO", "01500"),
        ("DK", "1050"),
        ("EE", "10111"),
        ("EE", "1011"),
        ("DE", "10115"),
        ("CH", "8001"),
        ("GB", "SW1A 1AA"),
        ("US", "x"),
    ];
    let mut bodies: Vec<(String, Value)> = Vec::new();
    for (ptr, value) in cases {
        let mut b = base.clone();
        set(&mut b, ptr, value.clone());
        bodies.push((format!("{ptr} = {value}"), b));
    }
    for (country, postal) in countries {
        let mut b = base.clone();
        b["client"]["countryCode"] = json!(country);
        b["client"]["postalCode"] = json!(postal);
        bodies.push((format!("{country} {postal}"), b));
    }
    for (what, body) in &bodies {
        match parse_new_client(body, ValidationMode::Strict) {
            Ok(parsed) => {
                let sent = serde_json::to_value(&parsed).unwrap();
                if let Err(e) = spec.validate(&schema, &sent) {
                    panic!("{what}: the SDK accepts and sends {sent}, but the description rejects it: {e}");
                }
            }
            Err(errors) => {
                assert!(
                    spec.validate(&schema, body).is_err(),
                    "{what}: the SDK rejects it ({errors:?}), the description accepts it"
                );
            }
        }
    }
    // Rules the description states in prose only: the SDK rejects, the schema cannot.
    for (ptr, value, field) in [
        ("/client/businessCode", json!("1572860-1"), "client.businessCode"),
        ("/client/vatRegNbr", json!("FI01120389"), "client.vatRegNbr"),
        ("/client/countryCode", json!("XX"), "client.countryCode"),
        ("/client/languageCode", json!("XX"), "client.languageCode"),
    ] {
        let mut b = base.clone();
        set(&mut b, ptr, value);
        let errors = parse_new_client(&b, ValidationMode::Strict).expect_err("the SDK rejects it");
        assert!(errors.contains_key(field), "{errors:?}");
        spec.validate(&schema, &b).expect("JSON Schema cannot express this rule");
    }
    // Known leniency of the SDK (see the report): values are checked trimmed but sent as given.
    let mut b = base.clone();
    b["client"]["countryCode"] = json!(" FI ");
    let parsed = parse_new_client(&b, ValidationMode::Strict).expect("the SDK trims before checking");
    assert!(spec.validate(&schema, &serde_json::to_value(&parsed).unwrap()).is_err(), "and sends the untrimmed value");
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let obj = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    if value.is_null() {
        obj.remove(key);
    } else {
        obj.insert(key.to_string(), value);
    }
}

/// Every example in the description is valid against its schema, and every `$ref` resolves.
#[test]
fn examples_are_valid_and_refs_resolve() {
    let spec = Spec::load();
    let mut refs = Vec::new();
    let mut examples = Vec::new();
    walk(&spec.doc, String::new(), &mut refs, &mut examples);
    assert!(refs.len() > 20, "found {} $refs", refs.len());
    for (at, r) in &refs {
        let target = r.strip_prefix('#').unwrap_or_else(|| panic!("{at}: non-local $ref {r}"));
        assert!(spec.get(target).is_some(), "{at}: $ref {r} does not resolve");
    }
    assert!(examples.len() >= 10, "found {} examples", examples.len());
    for (schema_ptr, example) in &examples {
        spec.validate(schema_ptr, example).unwrap_or_else(|e| panic!("example {example} is invalid: {e}"));
    }
    // The request examples are valid for the SDK in strict mode too (real Business ID check digits).
    let ex = spec.at("/paths/~1api~1v1~1partner~1client/post/requestBody/content/application~1json/examples");
    for (name, e) in ex.as_object().unwrap() {
        parse_new_client(&e["value"], ValidationMode::Strict).unwrap_or_else(|errs| panic!("example {name}: {errs:?}"));
    }
}

/// Collects `$ref`s and (schema pointer, example) pairs: `example`/`examples` of media types and
/// parameters, and the `examples` arrays of schemas.
fn walk(v: &Value, at: String, refs: &mut Vec<(String, String)>, examples: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                refs.push((at.clone(), r.clone()));
            }
            let is_schema_ctx = at.contains("/schemas/") || at.ends_with("/schema") || at.contains("/schema/");
            if o.contains_key("schema") {
                let schema_ptr = format!("{at}/schema");
                if let Some(e) = o.get("example") {
                    examples.push((schema_ptr.clone(), e.clone()));
                }
                if let Some(Value::Object(named)) = o.get("examples") {
                    for e in named.values() {
                        if let Some(value) = e.get("value") {
                            examples.push((schema_ptr.clone(), value.clone()));
                        }
                    }
                }
            } else if is_schema_ctx {
                if let Some(Value::Array(list)) = o.get("examples") {
                    for e in list {
                        examples.push((at.clone(), e.clone()));
                    }
                }
            }
            for (k, child) in o {
                walk(child, format!("{at}/{}", escape(k)), refs, examples);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{at}/{i}"), refs, examples);
            }
        }
        _ => {}
    }
}
