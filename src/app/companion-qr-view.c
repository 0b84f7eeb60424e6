/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-qr-view"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-qr-code.h"
#include "companion-qr-view.h"

/* Smallest and preferred size of a module, in logical pixels. */
#define MIN_MODULE_PX     3
#define NATURAL_MODULE_PX 7

/* Draws a QR code black on white with its quiet zone, as one texture with a
 * whole number of device pixels a module: scaled textures and many small
 * rectangles both blur or seam the edges that scanners rely on. */
struct _CompanionQrView
{
  GtkWidget        parent_instance;

  CompanionQrCode *code;
  GdkTexture      *texture;
  guint            texture_module_px;
};

G_DEFINE_FINAL_TYPE (CompanionQrView, companion_qr_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static guint
modules_across (CompanionQrView *self)
{
  return companion_qr_code_get_width (self->code) + 2 * COMPANION_QR_QUIET_ZONE;
}

static GdkTexture *
make_texture (CompanionQrCode *code,
              guint            module_px)
{
  g_autoptr(GBytes) gray = NULL;
  g_autoptr(GBytes) rgb = NULL;
  const guint8 *src;
  guint8 *dst;
  guint size = 0;
  gsize n;

  /* GTK 4.8 has no 8-bit gray memory format: expand to RGB. */
  gray = companion_qr_code_render_gray (code, module_px, &size);
  src = g_bytes_get_data (gray, &n);
  dst = g_malloc (n * 3);
  for (gsize i = 0; i < n; i++)
    dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
  rgb = g_bytes_new_take (dst, n * 3);

  return gdk_memory_texture_new (size, size, GDK_MEMORY_R8G8B8, rgb, (gsize) size * 3);
}

static void
companion_qr_view_measure (GtkWidget      *widget,
                           GtkOrientation  orientation,
                           int             for_size,
                           int            *minimum,
                           int            *natural,
                           int            *minimum_baseline,
                           int            *natural_baseline)
{
  CompanionQrView *self = COMPANION_QR_VIEW (widget);
  guint modules = self->code != NULL ? modules_across (self) : 29 + 2 * COMPANION_QR_QUIET_ZONE;

  *minimum = (int) (modules * MIN_MODULE_PX);
  *natural = (int) (modules * NATURAL_MODULE_PX);
}

static GtkSizeRequestMode
companion_qr_view_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_CONSTANT_SIZE;
}

static void
companion_qr_view_snapshot (GtkWidget   *widget,
                            GtkSnapshot *snapshot)
{
  CompanionQrView *self = COMPANION_QR_VIEW (widget);
  int scale = gtk_widget_get_scale_factor (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  guint modules, module_px;
  float side;

  if (self->code == NULL)
    return;

  modules = modules_across (self);
  module_px = (guint) (MIN (width, height) * scale) / modules;
  if (module_px == 0)
    module_px = 1;

  if (self->texture == NULL || self->texture_module_px != module_px)
    {
      g_clear_object (&self->texture);
      self->texture = make_texture (self->code, module_px);
      self->texture_module_px = module_px;
    }

  /* Device pixels map one to one; centre on whole logical pixels. */
  side = (float) (module_px * modules) / scale;
  gtk_snapshot_append_texture (snapshot, self->texture,
                               &GRAPHENE_RECT_INIT ((int) ((width - side) / 2),
                                                    (int) ((height - side) / 2),
                                                    side, side));
}

static void
companion_qr_view_dispose (GObject *object)
{
  CompanionQrView *self = COMPANION_QR_VIEW (object);

  g_clear_object (&self->code);
  g_clear_object (&self->texture);

  G_OBJECT_CLASS (companion_qr_view_parent_class)->dispose (object);
}

static void
companion_qr_view_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CompanionQrView *self = COMPANION_QR_VIEW (object);

  switch (prop_id)
    {
    case PROP_CODE:
      g_value_set_object (value, self->code);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_qr_view_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  CompanionQrView *self = COMPANION_QR_VIEW (object);

  switch (prop_id)
    {
    case PROP_CODE:
      companion_qr_view_set_code (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_qr_view_class_init (CompanionQrViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_qr_view_dispose;
  object_class->get_property = companion_qr_view_get_property;
  object_class->set_property = companion_qr_view_set_property;

  widget_class->measure = companion_qr_view_measure;
  widget_class->get_request_mode = companion_qr_view_get_request_mode;
  widget_class->snapshot = companion_qr_view_snapshot;

  properties[PROP_CODE] =
    g_param_spec_object ("code", NULL, NULL,
                         COMPANION_TYPE_QR_CODE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "qrview");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
companion_qr_view_init (CompanionQrView *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Pairing QR code"),
                                  -1);
}

GtkWidget *
companion_qr_view_new (void)
{
  return g_object_new (COMPANION_TYPE_QR_VIEW, NULL);
}

CompanionQrCode *
companion_qr_view_get_code (CompanionQrView *self)
{
  g_return_val_if_fail (COMPANION_IS_QR_VIEW (self), NULL);
  return self->code;
}

void
companion_qr_view_set_code (CompanionQrView *self,
                            CompanionQrCode *code)
{
  g_return_if_fail (COMPANION_IS_QR_VIEW (self));
  g_return_if_fail (code == NULL || COMPANION_IS_QR_CODE (code));

  if (!g_set_object (&self->code, code))
    return;

  g_clear_object (&self->texture);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);
}
