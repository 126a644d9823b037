#include "swiftlb_castore.h"
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int load_bio(X509_STORE *store, BIO *bio) {
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    if (!infos) { ERR_clear_error(); return -1; }
    int n = sk_X509_INFO_num(infos), added = 0, ok = n > 0;
    for (int i = 0; i < n && ok; i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509) { if (X509_STORE_add_cert(store, info->x509)) added++; else ok = 0; }
        if (ok && info->crl) { if (X509_STORE_add_crl(store, info->crl)) added++; else ok = 0; }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    ERR_clear_error();
    return ok && added > 0 ? added : -1;
}

int swiftlb_store_load_pem(X509_STORE *store, const char *text, int length) {
    BIO *bio = BIO_new_mem_buf(text, length);
    if (!bio) return -1;
    int n = load_bio(store, bio);
    BIO_free(bio);
    return n;
}

int swiftlb_store_load_file(X509_STORE *store, const char *path) {
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) { ERR_clear_error(); return -1; }
    int n = load_bio(store, bio);
    BIO_free(bio);
    return n;
}

int swiftlb_store_count(X509_STORE *store) { return sk_X509_OBJECT_num(X509_STORE_get0_objects(store)); }

X509 *swiftlb_store_cert_at(X509_STORE *store, int index) {
    return X509_OBJECT_get0_X509(sk_X509_OBJECT_value(X509_STORE_get0_objects(store), index));
}

X509_CRL *swiftlb_store_crl_at(X509_STORE *store, int index) {
    return X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(X509_STORE_get0_objects(store), index));
}

int swiftlb_store_merge(X509_STORE *target, X509_STORE *source) {
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(source);
    int crl = 0;
    for (int i = 0; i < sk_X509_OBJECT_num(objects); i++) {
        X509_OBJECT *object = sk_X509_OBJECT_value(objects, i);
        X509 *cert = X509_OBJECT_get0_X509(object);
        X509_CRL *list = X509_OBJECT_get0_X509_CRL(object);
        if (cert && !X509_STORE_add_cert(target, cert)) return 0;
        if (list) { if (!X509_STORE_add_crl(target, list)) return 0; crl = 1; }
    }
    if (crl) X509_STORE_set_flags(target, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    ERR_clear_error();
    return 1;
}

X509_STORE *swiftlb_ctx_swap_store(SSL_CTX *ctx, X509_STORE *store) {
    X509_STORE *old = SSL_CTX_get_cert_store(ctx);
    if (old) X509_STORE_up_ref(old);
    SSL_CTX_set1_cert_store(ctx, store);
    return old;
}

void swiftlb_ctx_forget_sessions(SSL_CTX *ctx, const char *id) {
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)id, (unsigned int)strlen(id));
    SSL_CTX_flush_sessions(ctx, LONG_MAX);
}

/* The BIO's text as a malloc'd C string. */
static char *take_text(BIO *bio) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    char *text = malloc((size_t)length + 1);
    if (text) { memcpy(text, data, (size_t)length); text[length] = 0; }
    BIO_free(bio);
    return text;
}

static void print_hex(BIO *bio, const unsigned char *bytes, int length) {
    for (int i = 0; i < length; i++) BIO_printf(bio, "%02X", bytes[i]);
}

static void print_name(BIO *bio, const X509_NAME *name) {
    char buffer[1024];
    if (name && X509_NAME_oneline(name, buffer, sizeof(buffer))) BIO_puts(bio, buffer);
}

char *swiftlb_cert_detail(X509 *cert) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return NULL;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    BIO_puts(bio, "Serial: ");
    print_hex(bio, ASN1_STRING_get0_data(serial), ASN1_STRING_length(serial));
    BIO_puts(bio, "\nnotBefore: ");
    ASN1_TIME_print(bio, X509_get0_notBefore(cert));
    BIO_puts(bio, "\nnotAfter: ");
    ASN1_TIME_print(bio, X509_get0_notAfter(cert));
    BIO_puts(bio, "\nSubject Alternative Name: ");
    STACK_OF(GENERAL_NAME) *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
            if (i > 0) BIO_puts(bio, ", ");
            unsigned char *text = NULL;
            if (name->type == GEN_DNS && ASN1_STRING_to_UTF8(&text, name->d.dNSName) >= 0) {
                BIO_printf(bio, "DNS:%s", text);
                OPENSSL_free(text);
            }
        }
        sk_GENERAL_NAME_pop_free(names, GENERAL_NAME_free);
    }
    BIO_puts(bio, "\nAlgorithm: ");
    EVP_PKEY *key = X509_get0_pubkey(cert);
    if (key) {
        const char *kind = NULL;
        switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA: kind = "RSA"; break;
        case EVP_PKEY_EC: kind = "EC"; break;
        case EVP_PKEY_DSA: kind = "DSA"; break;
        }
        if (kind) BIO_printf(bio, "%s%d", kind, EVP_PKEY_get_bits(key));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    BIO_puts(bio, "\nSHA1 FingerPrint: ");
    if (X509_digest(cert, EVP_sha1(), digest, &length)) print_hex(bio, digest, (int)length);
    BIO_puts(bio, "\nSubject: ");
    print_name(bio, X509_get_subject_name(cert));
    BIO_puts(bio, "\nIssuer: ");
    print_name(bio, X509_get_issuer_name(cert));
    BIO_puts(bio, "\n");
    ERR_clear_error();
    return take_text(bio);
}

char *swiftlb_crl_detail(X509_CRL *crl) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return NULL;
    BIO_printf(bio, "Version %ld\n", X509_CRL_get_version(crl) + 1);
    BIO_printf(bio, "Signature Algorithm: %s\n", OBJ_nid2ln(X509_CRL_get_signature_nid(crl)));
    BIO_puts(bio, "Issuer: ");
    print_name(bio, X509_CRL_get_issuer(crl));
    BIO_puts(bio, "\nLast Update: ");
    ASN1_TIME_print(bio, X509_CRL_get0_lastUpdate(crl));
    BIO_puts(bio, "\nNext Update: ");
    if (X509_CRL_get0_nextUpdate(crl)) ASN1_TIME_print(bio, X509_CRL_get0_nextUpdate(crl));
    BIO_puts(bio, "\n");
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    BIO_puts(bio, sk_X509_REVOKED_num(revoked) > 0 ? "Revoked Certificates:\n" : "No Revoked Certificates.\n");
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
        X509_REVOKED *entry = sk_X509_REVOKED_value(revoked, i);
        BIO_puts(bio, "    Serial Number: ");
        i2a_ASN1_INTEGER(bio, X509_REVOKED_get0_serialNumber(entry));
        BIO_puts(bio, "\n        Revocation Date: ");
        ASN1_TIME_print(bio, X509_REVOKED_get0_revocationDate(entry));
        BIO_puts(bio, "\n");
    }
    ERR_clear_error();
    return take_text(bio);
}
