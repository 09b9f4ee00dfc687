package com.confirmafinance.sdk

import java.io.File
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * Runs after `package` (failsafe): a fresh JVM with the built jar + its dependencies on the class path and no
 * extra flags loads the native library from the jar's linux-x86-64/ resource and talks to a real sandbox.
 */
class JarLoadingIT {
    @Test
    fun `the packaged jar loads its native library with no extra JVM flags`() {
        val jar = File(System.getProperty("confirma.jar") ?: error("confirma.jar not set"))
        assertTrue(jar.isFile, "$jar exists")
        val entries = java.util.zip.ZipFile(jar).use { z -> z.entries().toList().map { it.name } }
        assertTrue("linux-x86-64/libconfirma_kotlin.so" in entries, "native library inside the jar")

        // Class path: the jar, its runtime dependencies, and the test classes (for JarSmokeMain) — never target/classes.
        val cp = System.getProperty("java.class.path").split(File.pathSeparator)
            .filterNot { it.endsWith("/target/classes") || it.endsWith("/target/classes/") }
        assertTrue(cp.any { File(it).canonicalPath == jar.canonicalPath }, "failsafe puts the jar itself on the class path: $cp")

        Sandbox.start().use { sandbox ->
            val java = File(System.getProperty("java.home"), "bin/java").path
            val pb = ProcessBuilder(java, "-cp", cp.joinToString(File.pathSeparator), "com.confirmafinance.sdk.JarSmokeMain",
                sandbox.baseUrl, sandbox.provisioningToken, sandbox.partnerCode)
                .redirectErrorStream(true)
            pb.environment().remove("LD_LIBRARY_PATH")
            pb.environment().remove("JAVA_TOOL_OPTIONS")
            val p = pb.start()
            val out = p.inputStream.bufferedReader().readText()
            assertTrue(p.waitFor(60, TimeUnit.SECONDS))
            assertEquals(0, p.exitValue(), out)
            val line = out.lines().single { it.startsWith("SMOKE ok") }
            assertTrue(line.contains("valid=true"), line)
            assertTrue(line.contains(jar.name), "classes loaded from the jar: $line")
            println("[confirma-kotlin] cold JVM: $line")
            File(jar.parentFile, "cold-start.txt").writeText(line + "\n")
        }
    }
}
