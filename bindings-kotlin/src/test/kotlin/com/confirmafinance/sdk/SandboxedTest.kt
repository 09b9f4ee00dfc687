package com.confirmafinance.sdk

import java.io.File
import java.nio.file.Files
import java.util.concurrent.atomic.AtomicInteger
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.TestInstance

/**
 * What the lifecycle test classes share: one real sandbox per class (reset before each test), a client on it,
 * seeds for distinct business codes, and a temporary directory for the SQLite files, removed afterwards.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SandboxedTest(dirPrefix: String, firstSeed: Int) {
    protected lateinit var sandbox: Sandbox
    protected lateinit var client: OnboardingClient
    protected val seeds = AtomicInteger(firstSeed)
    protected val dir: File = Files.createTempDirectory(dirPrefix).toFile()

    @BeforeAll
    fun startSandbox() {
        sandbox = Sandbox.start()
        client = OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl))
    }

    @AfterAll
    fun stopSandbox() {
        client.close()
        sandbox.close()
        dir.deleteRecursively()
    }

    @BeforeEach
    fun resetSandbox() {
        sandbox.reset()
    }
}
