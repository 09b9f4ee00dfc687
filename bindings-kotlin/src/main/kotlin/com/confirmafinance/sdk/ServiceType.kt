package com.confirmafinance.sdk

/**
 * The CFIS service a client subscribes to (sent as `LIFECYCLE`, `INTERMEDIATION`, `COOP`).
 *
 * Hand-written rather than generated: the core's `ServiceType` also keeps a value it does not know
 * (`Other(String)`), which this enum cannot hold. It crosses the FFI as its wire string (a uniffi custom type,
 * `rust/uniffi.toml`), converted by [serviceTypeOf] and [name].
 */
enum class ServiceType {
    /** Invoice Lifecycle service. */
    LIFECYCLE,

    /** Invoice Intermediation service. */
    INTERMEDIATION,

    /** Co-Op service. */
    COOP,
    ;

    companion object
}

/**
 * The core's wire value of a service type as the enum. A value this SDK does not know (only lenient parsing lets
 * one through) is [ConfirmaException.Validation] on `service.type`.
 */
internal fun serviceTypeOf(wire: String): ServiceType =
    ServiceType.entries.firstOrNull { it.name == wire }
        ?: throw ConfirmaException.invalidInput("service.type", "must be one of LIFECYCLE, INTERMEDIATION, COOP")
