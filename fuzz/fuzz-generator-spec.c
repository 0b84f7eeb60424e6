/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The generator's SPEC ("chats=N,messages=N,media=N,calls=N,seed=N"): refused
 * with a generator error, or parsed into values within the limits that read
 * back the same when written out again. */
#include "config.h"

#include "companion-generator.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autofree char *written = NULL;
  g_autoptr(GError) error = NULL;
  CompanionGeneratorSpec spec = { 0 }, again = { 0 };

  fuzz_init ();
  if (!companion_generator_parse_spec (text, &spec, &error))
    {
      g_assert (error != NULL && error->domain == COMPANION_GENERATOR_ERROR);
      return 0;
    }
  g_assert_no_error (error);
  g_assert (spec.chats <= COMPANION_GENERATOR_MAX_CHATS);
  g_assert (spec.messages <= COMPANION_GENERATOR_MAX_MESSAGES);
  g_assert (spec.media <= COMPANION_GENERATOR_MAX_MEDIA);
  g_assert (spec.calls <= COMPANION_GENERATOR_MAX_CALLS);

  written = g_strdup_printf ("chats=%u,messages=%u,media=%u,calls=%u,seed=%u",
                             spec.chats, spec.messages, spec.media, spec.calls, spec.seed);
  g_assert (companion_generator_parse_spec (written, &again, &error));
  g_assert (spec.chats == again.chats && spec.messages == again.messages &&
            spec.media == again.media && spec.calls == again.calls && spec.seed == again.seed);
  return 0;
}
