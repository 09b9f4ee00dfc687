package example

import com.confirmafinance.sdk.ClientConfig
import com.confirmafinance.sdk.ClientDetails
import com.confirmafinance.sdk.ConfirmaException
import com.confirmafinance.sdk.Contact
import com.confirmafinance.sdk.ContactRole
import com.confirmafinance.sdk.Environment
import com.confirmafinance.sdk.NewClient
import com.confirmafinance.sdk.OnboardingClient
import com.confirmafinance.sdk.SecretToken
import com.confirmafinance.sdk.Service
import com.confirmafinance.sdk.ServiceType
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking

/**
 * The automated onboarding flow (partner side):
 *  1. the client submits the onboarding form -> create the client in CFIS with the Partner Provisioning Token;
 *  2. save the returned credentials (here: print them masked);
 *  3. validate the access token (as a service does on start-up);
 *  4. renew it (periodically), and check that the new one works.
 *
 * Environment: CFIS_BASE_URL (e.g. the sandbox's http://127.0.0.1:PORT; unset = staging),
 * CFIS_PROVISIONING_TOKEN, CFIS_PARTNER_CODE.
 */
fun main() = runBlocking {
    val baseUrl = System.getenv("CFIS_BASE_URL")?.takeIf { it.isNotBlank() }
    val provisioningToken = SecretToken(requireEnv("CFIS_PROVISIONING_TOKEN"))
    val partnerCode = requireEnv("CFIS_PARTNER_CODE")

    OnboardingClient(ClientConfig(environment = Environment.STAGING, baseUrl = baseUrl, userAgentSuffix = "onboarding-example/0.1")).use { cfis ->
        println("Confirma SDK ${OnboardingClient.sdkVersion} -> ${cfis.baseUrl}")

        // 1. What the onboarding form submitted (the service type was chosen and the terms accepted).
        val businessId = randomBusinessId()
        val form = NewClient(
            service = Service(serviceType = ServiceType.LIFECYCLE, partnerCode = partnerCode),
            client = ClientDetails(
                name = "Testiasiakas Oy", businessCode = businessId, vatRegNbr = "FI" + businessId.replace("-", ""),
                postalAddress = "Testikuja 7", postalCode = "00100", postalDistrict = "HELSINKI", countryCode = "FI",
                email = "laskutus@testiasiakas.fi", website = "https://www.testiasiakas.fi", languageCode = "FI",
            ),
            contacts = listOf(
                Contact(role = ContactRole.PRIMARY, name = "Maija Meikäläinen", email = "maija@testiasiakas.fi", telephone = "+358 40 123 4567"),
                Contact(role = ContactRole.TECHNICAL, name = "Teemu Teknikko", email = "teemu@testiasiakas.fi"),
            ),
        )

        val created = try {
            cfis.createClient(provisioningToken, form)
        } catch (e: ConfirmaException.Validation) {
            println("The form has problems (${e.source}): ")
            e.fieldErrors.forEach { (field, problems) -> println("  $field: ${problems.joinToString("; ")}") }
            exitProcess(2)
        } catch (e: ConfirmaException.Conflict) {
            println("Client $businessId already exists: switch to the existing-client path (validate or renew its stored token).")
            exitProcess(3)
        } catch (e: ConfirmaException.OutcomeUnknown) {
            val recovered = e.recoveredToken
            if (recovered != null) {
                // A partial success: the client exists and this is its only token. A real system stores
                // recovered.reveal() in its secret store now, then looks the client's identifiers up.
                println("Client $businessId was created but the answer lacked its identifiers; its token ($recovered) was recovered and must be stored. Request id: ${e.requestId}")
            } else {
                println("Unknown whether the client was created (${e.cause.message}); check before submitting again. Request id: ${e.requestId}")
            }
            exitProcess(4)
        }

        // 2. Save the credentials (a real system stores created.accessToken.reveal() in its secret store).
        println("Created client ${created.clientId}: customer code ${created.customerCode}, payment reference prefix ${created.paymentReferencePrefix}")
        println("  access token ${created.accessToken} expires ${created.tokenExpiresAt ?: "never"}; printed data class: $created")

        // 3. Validate the token.
        val status = cfis.validateToken(created.accessToken)
        println("Validate: valid=${status.isValid} expired=${status.expired} (${status.message})")

        // 4. Renew it; the old token stops working.
        val renewed = cfis.renewToken(created.accessToken)
        println("Renewed: new token ${renewed.accessToken} expires ${renewed.expiresAt ?: "never"}")
        println("Old token valid: ${cfis.validateToken(created.accessToken).isValid}; new token valid: ${cfis.validateToken(renewed.accessToken).isValid}")
        check(cfis.validateToken(renewed.accessToken).isValid) { "the renewed token should be valid" }
        println("Onboarding flow complete.")
    }
}

private fun requireEnv(name: String): String =
    System.getenv(name)?.takeIf { it.isNotBlank() } ?: run { System.err.println("set $name"); exitProcess(64) }

/** Shows only the last 4 characters. */

/** A valid Finnish Business ID (7 digits + check digit; weights 7,9,10,5,8,4,2; remainder 1 is never issued). */
private fun randomBusinessId(): String {
    while (true) {
        val digits = (1_000_000..9_999_999).random().toString()
        val r = digits.mapIndexed { i, c -> (c - '0') * intArrayOf(7, 9, 10, 5, 8, 4, 2)[i] }.sum() % 11
        if (r != 1) return "$digits-${if (r == 0) 0 else 11 - r}"
    }
}
