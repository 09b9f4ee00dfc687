//! Client-side validation of onboarding requests, with the same field paths the service uses
//! (`client.email`, `contacts[0].name`). The sandbox runs the same rules on the server side.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::form::FieldIssue;
use crate::models::{ClientDetails, Contact, ContactRole, NewClient, Service, ServiceType};

/// Field path → problems with that field, in a stable order.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// How thoroughly requests are checked before they are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ValidationMode {
    /// Presence, ISO codes, e-mail and URL syntax, known enum values, unknown fields, and the Finnish
    /// rules (postal code, Business ID check digit, VAT number) for `countryCode` FI. The default.
    #[default]
    Strict,
    /// Presence of required fields and ISO country/language codes only.
    Lenient,
}

impl ValidationMode {
    /// `"strict"` or `"lenient"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ValidationMode::Strict => "strict",
            ValidationMode::Lenient => "lenient",
        }
    }
}

impl fmt::Display for ValidationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ValidationMode {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Ok(ValidationMode::Strict),
            "lenient" => Ok(ValidationMode::Lenient),
            other => Err(crate::Error::configuration(format!(
                "unknown validation mode `{other}` (expected `strict` or `lenient`)"
            ))),
        }
    }
}

const COUNTRIES: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

const LANGUAGES: &str =
    "AA AB AE AF AK AM AN AR AS AV AY AZ BA BE BG BH BI BM BN BO BR BS CA CE CH CO CR CS CU CV CY DA DE DV \
DZ EE EL EN EO ES ET EU FA FF FI FJ FO FR FY GA GD GL GN GU GV HA HE HI HO HR HT HU HY HZ IA ID IE IG II IK IO IS IT \
IU JA JV KA KG KI KJ KK KL KM KN KO KR KS KU KV KW KY LA LB LG LI LN LO LT LU LV MG MH MI MK ML MN MR MS MT MY NA NB \
ND NE NG NL NN NO NR NV NY OC OJ OM OR OS PA PI PL PS PT QU RM RN RO RU RW SA SC SD SE SG SI SK SL SM SN SO SQ SR SS \
ST SU SV SW TA TE TG TH TI TK TL TN TO TR TS TT TW TY UG UK UR UZ VE VI VO WA WO XH YI YO ZA ZH ZU";

fn in_list(list: &str, code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_alphabetic())
        && list.split(' ').any(|c| c.eq_ignore_ascii_case(code))
}

/// Whether `code` is an ISO 3166-1 alpha-2 country code (case-insensitive).
pub fn is_country_code(code: &str) -> bool {
    in_list(COUNTRIES, code)
}

/// Whether `code` is an ISO 639-1 language code (case-insensitive). `DK` is accepted for Danish, as the
/// CFIS documentation lists it.
pub fn is_language_code(code: &str) -> bool {
    code.eq_ignore_ascii_case("DK") || in_list(LANGUAGES, code)
}

/// The check digit of a Finnish Business ID (Y-tunnus) from its first 7 digits, or `None` when no valid
/// check digit exists (remainder 1) or the input is not 7 digits.
pub fn finnish_business_id_check_digit(first_seven: &str) -> Option<u8> {
    const WEIGHTS: [u32; 7] = [7, 9, 10, 5, 8, 4, 2];
    if first_seven.len() != 7 {
        return None;
    }
    let mut sum: u32 = 0;
    for (c, w) in first_seven.chars().zip(WEIGHTS) {
        sum = sum.checked_add(c.to_digit(10)?.checked_mul(w)?)?;
    }
    match sum.checked_rem(11)? {
        0 => Some(0),
        1 => None,
        r => u8::try_from(11u32.checked_sub(r)?).ok(),
    }
}

/// Whether `id` is a Finnish Business ID: 7 digits, a hyphen and a correct check digit (`1572860-0`).
pub fn is_finnish_business_id(id: &str) -> bool {
    let Some((digits, check)) = id.split_once('-') else { return false };
    let mut check = check.chars();
    match (check.next().and_then(|c| c.to_digit(10)), check.next()) {
        (Some(d), None) => finnish_business_id_check_digit(digits).map(u32::from) == Some(d),
        _ => false,
    }
}

/// The Finnish VAT number of a Business ID (`1572860-0` → `FI15728600`).
pub fn finnish_vat_number(business_id: &str) -> String {
    format!("FI{}", business_id.replace('-', ""))
}

/// E-mail syntax as the W3C HTML specification defines a valid e-mail address.
pub fn is_email(value: &str) -> bool {
    if value.len() > 254 {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else { return false };
    if local.is_empty() || !local.chars().all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)) {
        return false;
    }
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// An `http`/`https` URL with a host; a bare host name with a dot (`www.example.fi`) is accepted too.
pub fn is_website(value: &str) -> bool {
    let candidate = if value.contains("://") { value.to_string() } else { format!("https://{value}") };
    match url::Url::parse(&candidate) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| h.contains('.') || h == "localhost")
                && !value.chars().any(char::is_whitespace)
        }
        Err(_) => false,
    }
}

/// The postal code format of a country this SDK knows: the number of digits, an example, and the
/// pattern the form schema carries (generated from this rule, never written twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostalCodeRule {
    /// ISO country code (upper case).
    pub country: &'static str,
    /// Number of digits.
    pub length: usize,
    /// An example of a valid code.
    pub example: &'static str,
    /// A regular expression for a valid code (ECMA-262 and Rust `regex` compatible).
    pub pattern: &'static str,
    /// The shape as developer English (`5 digits (NNN NN)`).
    pub shape: &'static str,
}

/// Every postal code rule, in a stable order.
pub const POSTAL_CODE_RULES: [PostalCodeRule; 12] = {
    const fn five(country: &'static str, example: &'static str) -> PostalCodeRule {
        PostalCodeRule { country, length: 5, example, pattern: "^[0-9]{5}$", shape: "5 digits" }
    }
    const fn four(country: &'static str, example: &'static str) -> PostalCodeRule {
        PostalCodeRule { country, length: 4, example, pattern: "^[0-9]{4}$", shape: "4 digits" }
    }
    [
        five("FI", "00100"),
        five("EE", "10111"),
        five("DE", "10115"),
        five("FR", "75001"),
        five("IT", "00118"),
        five("ES", "28001"),
        four("NO", "0150"),
        four("DK", "1050"),
        four("AT", "1010"),
        four("BE", "1000"),
        four("CH", "8001"),
        PostalCodeRule {
            country: "SE",
            length: 5,
            example: "111 20",
            pattern: "^ *(?:[0-9] *){5}$",
            shape: "5 digits (NNN NN)",
        },
    ]
};

/// The postal code rule of a country, if this SDK knows one.
pub fn postal_code_rule(country: &str) -> Option<&'static PostalCodeRule> {
    POSTAL_CODE_RULES.iter().find(|r| r.country.eq_ignore_ascii_case(country.trim()))
}

fn postal_code_ok(rule: &PostalCodeRule, code: &str) -> bool {
    if rule.country == "SE" {
        let compact: String = code.chars().filter(|c| *c != ' ').collect();
        compact.len() == 5 && compact.bytes().all(|b| b.is_ascii_digit())
    } else {
        code.len() == rule.length && code.bytes().all(|b| b.is_ascii_digit())
    }
}

/// What is wrong with a postal code for a country, for the countries whose format this SDK knows.
pub fn postal_code_problem(country: &str, code: &str) -> Option<String> {
    let rule = postal_code_rule(country)?;
    if postal_code_ok(rule, code) {
        None
    } else {
        Some(format!("must be {} for country {}", rule.shape, rule.country))
    }
}

/// The pattern of a Finnish Business ID's shape (the check digit is checked by [`is_finnish_business_id`]).
pub const BUSINESS_ID_PATTERN: &str = "^[0-9]{7}-[0-9]$";
/// The pattern of a Finnish VAT number (`FI` and 8 digits, any case).
pub const VAT_NUMBER_PATTERN: &str = "^[Ff][Ii][0-9]{8}$";
/// The pattern of a two-letter ISO code (country or language), any case.
pub const TWO_LETTER_CODE_PATTERN: &str = "^[A-Za-z]{2}$";
/// The longest e-mail address accepted.
pub const EMAIL_MAX_LENGTH: usize = 254;
/// An example Business ID (a real, public one) and its VAT number.
pub const EXAMPLE_BUSINESS_ID: &str = "1572860-0";
/// The VAT number of [`EXAMPLE_BUSINESS_ID`].
pub const EXAMPLE_VAT_NUMBER: &str = "FI15728600";

/// The client fields that must not be blank (wire names), in display order. The form schema's `required`
/// is generated from this list.
pub const REQUIRED_CLIENT_FIELDS: [&str; 8] =
    ["name", "businessCode", "postalAddress", "postalCode", "postalDistrict", "countryCode", "email", "languageCode"];

/// The service fields that must not be blank (wire names).
pub const REQUIRED_SERVICE_FIELDS: [&str; 2] = ["type", "partnerCode"];

/// The contact fields that must not be blank (wire names).
pub const REQUIRED_CONTACT_FIELDS: [&str; 3] = ["role", "name", "email"];

/// Checks a token before it is put in the `X-Api-Key` header: present, visible ASCII, no whitespace.
/// The message never contains the token.
pub fn token_problem(token: &str) -> Option<&'static str> {
    token_issue(token).map(|(_, m)| m)
}

/// The longest token accepted.
pub const TOKEN_MAX_LENGTH: usize = 4096;

/// [`token_problem`] with its message code.
pub(crate) fn token_issue(token: &str) -> Option<(&'static str, &'static str)> {
    if token.is_empty() {
        Some(("required", "is required"))
    } else if token.len() > TOKEN_MAX_LENGTH {
        Some(("token_too_long", "is too long (over 4096 characters)"))
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        Some(("token_format", "must be visible ASCII characters without spaces or line breaks"))
    } else {
        None
    }
}

#[derive(Default)]
struct Problems(Vec<FieldIssue>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, code: &'static str, msg: impl Into<String>) {
        self.add_with(path, code, &[], msg);
    }
    fn add_with(
        &mut self,
        path: impl Into<String>,
        code: &'static str,
        params: &[(&str, &str)],
        msg: impl Into<String>,
    ) {
        self.0.push(FieldIssue {
            field: path.into(),
            code: code.to_string(),
            params: params.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
            message: msg.into(),
        });
    }
    fn has(&self, path: &str) -> bool {
        self.0.iter().any(|i| i.field == path)
    }
    /// Sorted by field path (stable), as [`FieldErrors`] is.
    fn into_issues(mut self) -> Vec<FieldIssue> {
        self.0.sort_by(|a, b| a.field.cmp(&b.field));
        self.0
    }
}

/// Groups issues into field path → messages, in the issues' order.
pub fn field_errors_of(issues: &[FieldIssue]) -> FieldErrors {
    let mut fe = FieldErrors::new();
    for i in issues {
        fe.entry(i.field.clone()).or_default().push(i.message.clone());
    }
    fe
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Validates a new client. Every problem is reported at once, keyed by field path.
pub fn validate_new_client(c: &NewClient, mode: ValidationMode) -> Result<(), FieldErrors> {
    validate_new_client_issues(c, mode).map_err(|i| field_errors_of(&i))
}

/// [`validate_new_client`] with every problem as a [`FieldIssue`] (stable code and parameters).
pub fn validate_new_client_issues(c: &NewClient, mode: ValidationMode) -> Result<(), Vec<FieldIssue>> {
    let mut p = Problems::default();
    check_new_client(c, mode, &mut p);
    if p.0.is_empty() {
        Ok(())
    } else {
        Err(p.into_issues())
    }
}

/// The client's value of a wire field name (`""` for an absent optional one).
fn client_value<'a>(d: &'a ClientDetails, wire: &str) -> &'a str {
    match wire {
        "name" => &d.name,
        "businessCode" => &d.business_code,
        "vatRegNbr" => d.vat_reg_nbr.as_deref().unwrap_or(""),
        "postalAddress" => &d.postal_address,
        "postalCode" => &d.postal_code,
        "postalDistrict" => &d.postal_district,
        "countryCode" => &d.country_code,
        "telephone" => d.telephone.as_deref().unwrap_or(""),
        "email" => &d.email,
        "website" => d.website.as_deref().unwrap_or(""),
        "languageCode" => &d.language_code,
        _ => "",
    }
}

/// The allowed service types, as the developer message lists them.
pub(crate) const SERVICE_TYPES_TEXT: &str = "LIFECYCLE, INTERMEDIATION, COOP";
/// The allowed contact roles, as the developer message lists them.
pub(crate) const CONTACT_ROLES_TEXT: &str = "PRIMARY, TECHNICAL, ACCOUNTANT";

fn check_new_client(c: &NewClient, mode: ValidationMode, p: &mut Problems) {
    check_service_and_client(c, mode, p);
    let strict = mode == ValidationMode::Strict;
    check_contacts(c.contacts.iter().enumerate().map(|(i, k)| ContactView::of(i, Some(k.role), k)), strict, p);
}

/// The rules on `service` and `client` (the contacts are [`check_contacts`]).
fn check_service_and_client(c: &NewClient, mode: ValidationMode, p: &mut Problems) {
    let strict = mode == ValidationMode::Strict;
    // service
    if let ServiceType::Other(s) = &c.service.service_type {
        if blank(s) {
            p.add("service.type", "required", "is required");
        } else if strict {
            p.add_with(
                "service.type",
                "service_type_unknown",
                &[("allowed", SERVICE_TYPES_TEXT)],
                format!("must be one of {SERVICE_TYPES_TEXT}"),
            );
        }
    }
    if blank(&c.service.partner_code) {
        p.add("service.partnerCode", "required", "is required");
    }
    // client
    let d = &c.client;
    for wire in REQUIRED_CLIENT_FIELDS {
        if blank(client_value(d, wire)) {
            p.add(format!("client.{wire}"), "required", "is required");
        }
    }
    if !blank(&d.country_code) && !is_country_code(d.country_code.trim()) {
        p.add("client.countryCode", "country_code_format", "must be an ISO 3166-1 alpha-2 country code (e.g. FI)");
    }
    if !blank(&d.language_code) && !is_language_code(d.language_code.trim()) {
        p.add("client.languageCode", "language_code_format", "must be an ISO 639-1 language code (e.g. FI, SV, EN)");
    }
    if strict {
        if !blank(&d.email) && !is_email(d.email.trim()) {
            p.add("client.email", "email_format", "must be a valid e-mail address");
        }
        if let Some(w) = d.website.as_deref().filter(|w| !blank(w)) {
            if !is_website(w.trim()) {
                p.add("client.website", "website_format", "must be an http(s) URL");
            }
        }
        let country = d.country_code.trim();
        if !blank(&d.postal_code) && is_country_code(country) {
            if let (Some(problem), Some(rule)) =
                (postal_code_problem(country, d.postal_code.trim()), postal_code_rule(country))
            {
                p.add_with(
                    "client.postalCode",
                    "postal_code_format",
                    &[("country", rule.country), ("length", &rule.length.to_string()), ("example", rule.example)],
                    problem,
                );
            }
        }
        if country.eq_ignore_ascii_case("FI") {
            let bid = d.business_code.trim();
            if !blank(bid) && !is_finnish_business_id(bid) {
                let shape_ok = bid.len() == 9
                    && bid.bytes().enumerate().all(|(i, b)| if i == 7 { b == b'-' } else { b.is_ascii_digit() });
                p.add_with(
                    "client.businessCode",
                    if shape_ok { "business_id_check_digit" } else { "business_id_format" },
                    &[("example", EXAMPLE_BUSINESS_ID)],
                    "must be a Finnish Business ID: 7 digits, a hyphen and a valid check digit (e.g. 1572860-0)",
                );
            }
            if let Some(vat) = d.vat_reg_nbr.as_deref().filter(|v| !blank(v)) {
                // Character-wise: a multi-byte character must never be cut (`€1234567` is 10 bytes).
                let vat = vat.trim();
                let digits = vat
                    .get(..2)
                    .filter(|prefix| prefix.eq_ignore_ascii_case("FI"))
                    .and_then(|_| vat.get(2..))
                    .filter(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()));
                match digits {
                    None => p.add_with(
                        "client.vatRegNbr",
                        "vat_format",
                        &[("example", EXAMPLE_VAT_NUMBER)],
                        "must be FI followed by 8 digits (e.g. FI15728600)",
                    ),
                    Some(d) if is_finnish_business_id(bid) && d != bid.replace('-', "") => p.add_with(
                        "client.vatRegNbr",
                        "vat_mismatch",
                        &[("expected", &finnish_vat_number(bid))],
                        "must be FI followed by the 8 digits of the business ID",
                    ),
                    Some(_) => {}
                }
            }
        }
    }
}

/// One contact as the rules see it: its index in the request (so paths name the right row even when an
/// earlier row could not be read) and its role when the role could be read.
struct ContactView<'a> {
    index: usize,
    role: Option<ContactRole>,
    name: &'a str,
    email: &'a str,
}

impl<'a> ContactView<'a> {
    fn of(index: usize, role: Option<ContactRole>, c: &'a Contact) -> Self {
        ContactView { index, role, name: &c.name, email: &c.email }
    }
}

/// The contact rules: name and e-mail on every row (also a row whose role is missing or unknown), one
/// contact per role, and a PRIMARY contact — unless a row's role could not be read (it may be the primary).
fn check_contacts<'a>(contacts: impl IntoIterator<Item = ContactView<'a>>, strict: bool, p: &mut Problems) {
    let mut seen: BTreeMap<ContactRole, usize> = BTreeMap::new();
    let mut role_unreadable = false;
    for ContactView { index: i, role, name, email } in contacts {
        if blank(name) {
            p.add(format!("contacts[{i}].name"), "required", "is required");
        }
        if blank(email) {
            p.add(format!("contacts[{i}].email"), "required", "is required");
        } else if strict && !is_email(email.trim()) {
            p.add(format!("contacts[{i}].email"), "email_format", "must be a valid e-mail address");
        }
        let Some(role) = role else {
            role_unreadable = true;
            continue;
        };
        match seen.entry(role) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::btree_map::Entry::Occupied(first) => p.add_with(
                format!("contacts[{i}].role"),
                "duplicate_role",
                &[("role", role.as_str()), ("first", &format!("contacts[{}]", first.get()))],
                format!("duplicate role {} (already given at contacts[{}])", role, first.get()),
            ),
        }
    }
    if !seen.contains_key(&ContactRole::Primary) && !role_unreadable && !p.has("contacts") {
        p.add("contacts", "primary_contact_required", "a PRIMARY contact is required");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Structural parsing of loosely typed input (JSON from a file, a Python dict, a JS object, a request body)
// ---------------------------------------------------------------------------------------------------------

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len().saturating_add(4));
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

struct Section<'a> {
    obj: &'a Map<String, Value>,
    path: String,
    known: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn lookup(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.obj.get(key).or_else(|| self.obj.get(&snake(key))).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &'static str, p: &mut Problems) -> String {
        match self.lookup(key) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                p.add(self.child(key), "type_string", "must be a string");
                String::new()
            }
        }
    }

    fn opt_string(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        Some(self.string(key, p)).filter(|s| !blank(s))
    }

    fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn unknown_keys(&self, mode: ValidationMode, p: &mut Problems) {
        if mode != ValidationMode::Strict {
            return;
        }
        for key in self.obj.keys() {
            let known = self.known.iter().any(|k| k == key || snake(k) == *key);
            if !known {
                p.add(self.child(key), "unknown_field", "is not a known field");
            }
        }
    }
}

fn object<'a>(value: Option<&'a Value>, path: &str, p: &mut Problems) -> Option<&'a Map<String, Value>> {
    match value {
        Some(Value::Object(m)) => Some(m),
        None | Some(Value::Null) => {
            p.add(path, "required", "is required");
            None
        }
        Some(_) => {
            p.add(path, "type_object", "must be an object");
            None
        }
    }
}

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

/// Parses and validates loosely typed input shaped like the API contract. Keys may be camelCase (as on
/// the wire) or snake_case. Structural problems (a number where a string belongs, an unknown contact role,
/// and in strict mode an unknown field) and rule violations are reported together.
pub fn parse_new_client(value: &Value, mode: ValidationMode) -> Result<NewClient, FieldErrors> {
    parse_new_client_issues(value, mode).map_err(|i| field_errors_of(&i))
}

/// [`parse_new_client`] with every problem as a [`FieldIssue`] (stable code and parameters), sorted by
/// field path.
pub fn parse_new_client_issues(value: &Value, mode: ValidationMode) -> Result<NewClient, Vec<FieldIssue>> {
    let mut p = Problems::default();
    let empty = EMPTY.get_or_init(Map::new);
    let root_obj = match value {
        Value::Object(m) => m,
        _ => {
            p.add("$", "form_object", "must be a JSON object with service, client and contacts");
            return Err(p.into_issues());
        }
    };
    let mut root = Section { obj: root_obj, path: String::new(), known: vec![] };

    let service_obj = object(root.lookup("service"), "service", &mut p).unwrap_or(empty);
    let mut s = Section { obj: service_obj, path: "service".into(), known: vec![] };
    let type_str = s.string("type", &mut p);
    let service =
        Service { service_type: ServiceType::parse(&type_str), partner_code: s.string("partnerCode", &mut p) };
    s.unknown_keys(mode, &mut p);

    let client_obj = object(root.lookup("client"), "client", &mut p).unwrap_or(empty);
    let mut c = Section { obj: client_obj, path: "client".into(), known: vec![] };
    let client = ClientDetails {
        name: c.string("name", &mut p),
        business_code: c.string("businessCode", &mut p),
        vat_reg_nbr: c.opt_string("vatRegNbr", &mut p),
        postal_address: c.string("postalAddress", &mut p),
        postal_code: c.string("postalCode", &mut p),
        postal_district: c.string("postalDistrict", &mut p),
        country_code: c.string("countryCode", &mut p),
        telephone: c.opt_string("telephone", &mut p),
        email: c.string("email", &mut p),
        website: c.opt_string("website", &mut p),
        language_code: c.string("languageCode", &mut p),
    };
    c.unknown_keys(mode, &mut p);

    // Every readable row, with its index in the request and its role when the role could be read.
    let mut rows: Vec<(usize, Option<ContactRole>, Contact)> = Vec::new();
    match root.lookup("contacts") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("contacts[{i}]");
                let Some(obj) = object(Some(item), &path, &mut p) else { continue };
                let mut sec = Section { obj, path: path.clone(), known: vec![] };
                let role_str = sec.string("role", &mut p);
                let name = sec.string("name", &mut p);
                let email = sec.string("email", &mut p);
                let telephone = sec.opt_string("telephone", &mut p);
                sec.unknown_keys(mode, &mut p);
                let role = ContactRole::parse(&role_str);
                match role {
                    Some(_) => {}
                    None if blank(&role_str) => p.add(format!("{path}.role"), "required", "is required"),
                    None => p.add_with(
                        format!("{path}.role"),
                        "contact_role_unknown",
                        &[("allowed", CONTACT_ROLES_TEXT)],
                        format!("must be one of {CONTACT_ROLES_TEXT}"),
                    ),
                }
                rows.push((i, role, Contact { role: role.unwrap_or(ContactRole::Primary), name, email, telephone }));
            }
        }
        Some(_) => p.add("contacts", "type_array", "must be an array"),
    }
    root.unknown_keys(mode, &mut p);

    // Rule checks; a field that already has a structural problem is not reported twice. The contact rules
    // run on every readable row under its own index, so a row after an unreadable one keeps its path.
    let mut rules = Problems::default();
    let parsed_without_contacts = NewClient { service, client, contacts: Vec::new() };
    check_service_and_client(&parsed_without_contacts, mode, &mut rules);
    let strict = mode == ValidationMode::Strict;
    check_contacts(rows.iter().map(|(i, role, c)| ContactView::of(*i, *role, c)), strict, &mut rules);
    let parsed = NewClient {
        contacts: rows.into_iter().filter(|(_, role, _)| role.is_some()).map(|(_, _, c)| c).collect(),
        ..parsed_without_contacts
    };
    let structural: std::collections::BTreeSet<String> = p.0.iter().map(|i| i.field.clone()).collect();
    for issue in rules.0 {
        let covered = structural.contains(&issue.field);
        if !covered {
            p.0.push(issue);
        }
    }
    if p.0.is_empty() {
        Ok(parsed)
    } else {
        Err(p.into_issues())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "service": {"type": "LIFECYCLE", "partnerCode": "QUICK3"},
            "client": {"name": "Test Customer Oy", "businessCode": "1572860-0", "vatRegNbr": "FI15728600",
                       "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                       "countryCode": "FI", "telephone": "", "email": "email@testcustomer.fi", "website": "",
                       "languageCode": "FI"},
            "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testcustomer.fi"}]
        })
    }

    #[test]
    fn business_id_check_digits() {
        // Real, public Business IDs.
        for id in ["1572860-0", "0112038-9", "2331972-7", "0201256-6"] {
            assert!(is_finnish_business_id(id), "{id}");
        }
        for id in ["1572860-1", "123456-7", "1234567", "1572860_0", "157286a-0", ""] {
            assert!(!is_finnish_business_id(id), "{id}");
        }
        // Remainder 1 has no valid check digit.
        let mut found = false;
        for n in 0..200u32 {
            let s = format!("{:07}", 1000000 + n);
            if finnish_business_id_check_digit(&s).is_none() {
                found = true;
                assert!(!(0..10).any(|d| is_finnish_business_id(&format!("{s}-{d}"))));
            }
        }
        assert!(found);
        assert_eq!(finnish_vat_number("1572860-0"), "FI15728600");
    }

    #[test]
    fn codes() {
        assert_eq!(COUNTRIES.split(' ').count(), 249);
        assert!(is_country_code("FI") && is_country_code("se") && !is_country_code("XX") && !is_country_code("FIN"));
        assert!(is_language_code("FI") && is_language_code("sv") && is_language_code("DK") && is_language_code("DA"));
        assert!(!is_language_code("XX") && !is_language_code("FIN"));
    }

    #[test]
    fn emails_and_urls() {
        assert!(is_email("a.b+c@example.fi") && is_email("x@localhost"));
        for bad in ["", "a", "a@", "@b.fi", "a b@c.fi", "a@b..fi", "a@-b.fi", "a@@b.fi"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_website("https://www.example.fi/x") && is_website("www.example.fi"));
        assert!(!is_website("ftp://example.fi") && !is_website("not a url") && !is_website("http://"));
    }

    #[test]
    fn valid_payload_passes_both_modes() {
        for mode in [ValidationMode::Strict, ValidationMode::Lenient] {
            let c = parse_new_client(&valid(), mode).unwrap();
            assert_eq!(c.client.telephone, None);
            assert!(validate_new_client(&c, mode).is_ok());
        }
    }

    #[test]
    fn all_problems_at_once_with_paths() {
        let mut v = valid();
        v["client"]["email"] = json!("not-an-email");
        v["client"]["businessCode"] = json!("123456-7");
        v["client"]["vatRegNbr"] = json!("FI1234567");
        v["client"]["postalCode"] = json!("1234");
        v["client"]["countryCode"] = json!("XX");
        v["contacts"][0]["name"] = json!(" ");
        let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
        let keys: Vec<_> = errs.keys().cloned().collect();
        assert_eq!(keys, ["client.countryCode", "client.email", "contacts[0].name"]);
        v["client"]["countryCode"] = json!("FI");
        let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
        let keys: Vec<_> = errs.keys().cloned().collect();
        assert_eq!(
            keys,
            ["client.businessCode", "client.email", "client.postalCode", "client.vatRegNbr", "contacts[0].name"]
        );
        // Lenient: only presence and ISO codes.
        let errs = parse_new_client(&v, ValidationMode::Lenient).unwrap_err();
        assert_eq!(errs.keys().collect::<Vec<_>>(), ["contacts[0].name"]);
    }

    #[test]
    fn portal_example_passes_lenient_only() {
        let mut v = valid();
        v["client"]["businessCode"] = json!("123456-7");
        v["client"]["vatRegNbr"] = json!("FI1234567");
        v["client"]["postalCode"] = json!("12345");
        assert!(parse_new_client(&v, ValidationMode::Lenient).is_ok());
        assert!(parse_new_client(&v, ValidationMode::Strict).is_err());
    }

    #[test]
    fn structure_problems() {
        let v = json!({"client": {"name": 5, "emial": "x"}, "contacts": [{"role": "BOSS", "name": "A", "email": "a@b.fi"}, 3]});
        let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
        assert!(errs.contains_key("service"));
        assert!(errs.contains_key("client.emial"));
        assert!(errs.contains_key("client.email"));
        assert_eq!(errs["contacts[0].role"], ["must be one of PRIMARY, TECHNICAL, ACCOUNTANT"]);
        assert_eq!(errs["contacts[1]"], ["must be an object"]);
        assert!(!errs.contains_key("contacts"), "no extra 'PRIMARY required' when a role was unreadable");
        let errs = parse_new_client(&json!([1]), ValidationMode::Lenient).unwrap_err();
        assert!(errs.contains_key("$"));
    }

    #[test]
    fn every_contact_row_is_checked_under_its_own_index() {
        // A row without a role still gets its name/e-mail checks, and the rows after an unreadable one keep
        // their paths (they used to shift down by one).
        let mut v = valid();
        v["contacts"] = json!([{}, 3, {"role": "PRIMARY", "name": "", "email": "not-an-email"}]);
        let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
        assert_eq!(
            errs.keys().collect::<Vec<_>>(),
            [
                "contacts[0].email",
                "contacts[0].name",
                "contacts[0].role",
                "contacts[1]",
                "contacts[2].email",
                "contacts[2].name"
            ]
        );
        assert_eq!(errs["contacts[2].email"], ["must be a valid e-mail address"]);
        // With every role readable the PRIMARY rule applies again.
        v["contacts"] = json!([{"role": "TECHNICAL", "name": "T", "email": "t@b.fi"}]);
        let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
        assert_eq!(errs["contacts"], ["a PRIMARY contact is required"]);
    }

    #[test]
    fn snake_case_keys_and_duplicate_roles() {
        let v = json!({
            "service": {"type": "coop", "partner_code": "P"},
            "client": {"name": "A Oy", "business_code": "1572860-0", "postal_address": "x", "postal_code": "00100",
                       "postal_district": "H", "country_code": "fi", "email": "a@b.fi", "language_code": "fi"},
            "contacts": [{"role": "technical", "name": "T", "email": "t@b.fi"}, {"role": "TECHNICAL", "name": "U", "email": "u@b.fi"}]
        });
        let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
        assert_eq!(errs.keys().collect::<Vec<_>>(), ["contacts", "contacts[1].role"]);
    }

    #[test]
    fn multibyte_input_never_panics() {
        // `€1234567` is 10 bytes: the old byte-length check let it through to a slice inside `€`.
        for vat in ["€1234567", "FI€123456", "é", "FI1234567€", "ＦＩ12345678", "\u{0}\u{0}"] {
            let mut v = valid();
            v["client"]["vatRegNbr"] = json!(vat);
            let errs = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
            assert_eq!(errs.keys().collect::<Vec<_>>(), ["client.vatRegNbr"], "{vat}");
            assert!(parse_new_client(&v, ValidationMode::Lenient).is_ok());
        }
        for id in ["€€€-0", "1572860-€", "157286€-0", "1572860-00", "-", "€"] {
            assert!(!is_finnish_business_id(id), "{id}");
        }
        assert_eq!(finnish_business_id_check_digit("12345€"), None);
    }

    #[test]
    fn tokens() {
        assert!(token_problem("abc").is_none());
        assert!(token_problem("").is_some());
        assert!(token_problem("a b").is_some());
        assert!(token_problem("a\nb").is_some());
    }
}
