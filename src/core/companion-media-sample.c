/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-media-sample"

#include "config.h"

#include <png.h>
#include <string.h>

#include "companion-media-sample.h"

static guint
pick (GRand *rand,
      guint  n)
{
  return (guint) g_rand_int_range (rand, 0, (gint32) n);
}

static GBytes *
encode_png (const guint8 *pixels,
            guint         width,
            guint         height)
{
  png_image image = { 0 };
  png_alloc_size_t size = 0;
  guint8 *memory;

  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_RGB;
  image.flags = PNG_IMAGE_FLAG_FAST;
  if (!png_image_write_to_memory (&image, NULL, &size, 0, pixels, 0, NULL))
    g_error ("libpng: %s", image.message);
  memory = g_malloc (size);
  if (!png_image_write_to_memory (&image, memory, &size, 0, pixels, 0, NULL))
    g_error ("libpng: %s", image.message);
  return g_bytes_new_take (memory, size);
}

/* The image scaled down to THUMBNAIL_SIDE on its longer side, as base64. */
#define THUMBNAIL_SIDE 48

static char *
make_thumbnail (const guint8 *pixels,
                guint         width,
                guint         height)
{
  guint longer = MAX (width, height);
  guint tw = MAX (1, width * THUMBNAIL_SIDE / longer), th = MAX (1, height * THUMBNAIL_SIDE / longer);
  g_autofree guint8 *small = g_malloc ((gsize) tw * th * 3);
  g_autoptr(GBytes) png = NULL;

  for (guint y = 0; y < th; y++)
    for (guint x = 0; x < tw; x++)
      memcpy (small + ((gsize) y * tw + x) * 3,
              pixels + ((gsize) (y * height / th) * width + x * width / tw) * 3, 3);
  png = encode_png (small, tw, th);
  return g_base64_encode (g_bytes_get_data (png, NULL), g_bytes_get_size (png));
}

GBytes *
companion_media_sample_png (GRand *rand,
                            guint  index,
                            guint *width_out,
                            guint *height_out,
                            char **thumbnail_out)
{
  guint width = 64 + pick (rand, 577), height = 64 + pick (rand, 577);
  guint pattern = pick (rand, 3);
  guint8 c1[3], c2[3];
  g_autofree guint8 *pixels = NULL;

  for (guint i = 0; i < 3; i++)
    {
      c1[i] = (guint8) pick (rand, 256);
      c2[i] = (guint8) pick (rand, 256);
    }
  pixels = g_malloc ((gsize) width * height * 3);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        guint8 *p = pixels + ((gsize) y * width + x) * 3;
        guint t;

        switch (pattern)
          {
          case 0: /* diagonal gradient */
            t = (x + y) * 255 / (width + height);
            break;
          case 1: /* checkerboard */
            t = (((x / 16) + (y / 16)) & 1) * 255;
            break;
          default: /* rings */
            {
              gint dx = (gint) x - (gint) width / 2, dy = (gint) y - (gint) height / 2;
              t = ((guint) (dx * dx + dy * dy) / 97) & 255;
            }
            break;
          }
        for (guint i = 0; i < 3; i++)
          p[i] = (guint8) ((c1[i] * (255 - t) + c2[i] * t) / 255);
      }
  /* The index in the first pixels: every image differs. */
  pixels[0] = (guint8) (index >> 16);
  pixels[1] = (guint8) (index >> 8);
  pixels[2] = (guint8) index;

  *width_out = width;
  *height_out = height;
  if (thumbnail_out != NULL)
    *thumbnail_out = make_thumbnail (pixels, width, height);
  return encode_png (pixels, width, height);
}

static void
put_u32 (GByteArray *a,
         guint32     v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (a, b, 4);
}

static void
put_u16 (GByteArray *a,
         guint16     v)
{
  guint8 b[2] = { v & 0xff, v >> 8 };
  g_byte_array_append (a, b, 2);
}

/* A voice note: RIFF/WAVE, PCM 16-bit, 8 kHz mono, a triangle tone with a
 * fade in and out, and an INFO comment naming it. */
GBytes *
companion_media_sample_wav (GRand *rand,
                            guint  index,
                            guint *duration_ms_out)
{
  const guint rate = 8000;
  guint samples = rate + pick (rand, rate * 5);
  guint period = rate / (180 + pick (rand, 500));
  guint fade = rate / 20;
  g_autofree char *comment = g_strdup_printf ("Companion voice note %u", index + 1);
  guint comment_size = (guint) strlen (comment) + 1;
  guint info_size = 4 + 8 + comment_size + (comment_size & 1);
  GByteArray *a = g_byte_array_sized_new (44 + samples * 2 + info_size + 8);

  g_byte_array_append (a, (const guint8 *) "RIFF", 4);
  put_u32 (a, 4 + 24 + 8 + samples * 2 + 8 + info_size);
  g_byte_array_append (a, (const guint8 *) "WAVEfmt ", 8);
  put_u32 (a, 16);
  put_u16 (a, 1);            /* PCM */
  put_u16 (a, 1);            /* mono */
  put_u32 (a, rate);
  put_u32 (a, rate * 2);     /* bytes per second */
  put_u16 (a, 2);            /* block align */
  put_u16 (a, 16);           /* bits per sample */
  g_byte_array_append (a, (const guint8 *) "data", 4);
  put_u32 (a, samples * 2);
  for (guint i = 0; i < samples; i++)
    {
      guint phase = i % period;
      gint tri = (gint) (phase < period / 2 ? phase : period - phase) * 4 * 6000 / (gint) period - 6000;
      guint edge = MIN (i, samples - 1 - i);

      if (edge < fade)
        tri = tri * (gint) edge / (gint) fade;
      put_u16 (a, (guint16) (gint16) tri);
    }
  g_byte_array_append (a, (const guint8 *) "LIST", 4);
  put_u32 (a, info_size);
  g_byte_array_append (a, (const guint8 *) "INFOICMT", 8);
  put_u32 (a, comment_size);
  g_byte_array_append (a, (const guint8 *) comment, comment_size);
  if (comment_size & 1)
    g_byte_array_append (a, (const guint8 *) "", 1);

  *duration_ms_out = samples * 1000 / rate;
  return g_byte_array_free_to_bytes (a);
}

/* A one-page PDF 1.4 with a line of text and a correct cross-reference table. */
GBytes *
companion_media_sample_pdf (const char *title)
{
  GString *pdf = g_string_new ("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
  g_autofree char *stream = g_strdup_printf ("BT /F1 24 Tf 72 720 Td (%s) Tj ET\n", title);
  char *objects[5] = { NULL };
  gsize offsets[5];
  gsize xref;

  objects[0] = g_strdup ("<< /Type /Catalog /Pages 2 0 R >>");
  objects[1] = g_strdup ("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
  objects[2] = g_strdup ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
                         " /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>");
  objects[3] = g_strdup_printf ("<< /Length %zu >>\nstream\n%sendstream", strlen (stream), stream);
  objects[4] = g_strdup ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  for (guint i = 0; i < 5; i++)
    {
      offsets[i] = pdf->len;
      g_string_append_printf (pdf, "%u 0 obj\n%s\nendobj\n", i + 1, objects[i]);
      g_clear_pointer (&objects[i], g_free);
    }
  xref = pdf->len;
  g_string_append (pdf, "xref\n0 6\n0000000000 65535 f \n");
  for (guint i = 0; i < 5; i++)
    g_string_append_printf (pdf, "%010zu 00000 n \n", offsets[i]);
  g_string_append_printf (pdf, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
  return g_string_free_to_bytes (pdf);
}

