"""The HTML of ``core.report``: one page, its style inline, rendered by Jinja2 with autoescape on."""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fundus Viewer report: {{ context.title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-top: 1px solid #ccc; padding-top: 1em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 0.25em 0.6em; text-align: left; vertical-align: middle; }
table.photos td, table.photos th { border-bottom: 1px solid #ddd; }
table.facts th { font-weight: normal; color: #555; }
.flag { color: #c0392b; font-weight: bold; }
.error { color: #c0392b; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 520px; width: 100%; height: auto; border: 1px solid #ccc; }
figcaption { font-size: 0.9em; color: #444; }
.small { font-size: 0.85em; color: #555; }
</style>
</head>
<body>
<h1>Fundus Viewer report: {{ context.title }}</h1>
<table class="facts">
<tr><th>Written</th><td>{{ context.written }} by Fundus Viewer {{ context.app_version }}</td></tr>
<tr><th>Model</th><td>{{ context.model.name }} ({{ context.model.arch }}, {{ context.model.input_size }} px, \
sees {{ {"fov": "the field of view", "disc": "an optic-disc crop", "none": "the whole photo"}\
.get(context.model.crop, context.model.crop) }})</td></tr>
<tr><th>Model SHA-256</th><td><code>{{ context.model.sha256 or "unknown" }}</code></td></tr>
<tr><th>The call</th><td>{{ context.calibration }}</td></tr>
<tr><th>Thresholds</th><td>θ act {{ "%.2f"|format(thresholds.theta_act) }}, \
θ CMI {{ "%.2f"|format(thresholds.cmi_low) }} – {{ "%.2f"|format(thresholds.cmi_high) }}, \
CMI scaled by {{ thresholds.normalization }}</td></tr>
<tr><th>Layers</th><td>{{ context.model.layers|join(", ") }}</td></tr>
<tr><th>Colour map</th><td>{{ context.colormap }}</td></tr>
</table>
<p class="small">Heat maps after Wang et al., MICCAI 2019: rim loss (RL, high CMI) and RNFL defect (RNFLD,
low CMI). Research software; not a medical device.</p>
{% if table %}
<h2>{{ sections|length }} photos</h2>
<table class="photos">
<tr><th></th><th>Photo</th><th>P(glaucoma)</th><th>Call</th><th>vCDR</th><th>OOD</th></tr>
{% for s in sections %}
<tr>
<td>{% if s.entry.thumbnail %}<a href="#{{ s.anchor }}"><img src="{{ s.entry.thumbnail.data_uri }}" \
alt="{{ s.entry.name }}"></a>{% endif %}</td>
<td><a href="#{{ s.anchor }}">{{ s.entry.name }}</a></td>
{% if s.entry.error %}
<td colspan="4" class="error">{{ s.entry.error }}</td>
{% else %}
<td>{{ s.probability }}</td><td>{{ s.call }}</td><td>{{ s.vcdr }}</td>
<td{% if s.flagged %} class="flag"{% endif %}>{{ "unlike the training photos" if s.flagged else \
("ok" if s.ood else "") }}</td>
{% endif %}
</tr>
{% endfor %}
</table>
{% endif %}
{% for s in sections %}
<section id="{{ s.anchor }}">
<h2>{{ s.entry.name }}</h2>
{% if s.entry.error %}
<p class="error">Not analysed: {{ s.entry.error }}</p>
{% else %}
<table class="facts">
<tr><th>P(glaucoma)</th><td><b>{{ s.probability }} → {{ s.call }}</b></td></tr>
<tr><th>Vertical cup-to-disc ratio</th><td>{{ s.vcdr }}</td></tr>
{% if s.ood %}<tr><th>Out of distribution</th><td{% if s.flagged %} class="flag"{% endif %}>{{ s.ood }}\
{% if s.flagged %}: do not trust the probability or the maps{% endif %}</td></tr>{% endif %}
<tr><th>Photo size</th><td>{{ s.entry.size[0] }} × {{ s.entry.size[1] }} px</td></tr>
<tr><th>Feature maps kept</th><td class="small">{{ s.entry.counts }}</td></tr>
</table>
{% for image in s.entry.images %}
<figure><img src="{{ image.data_uri }}" alt="{{ image.title }}">
<figcaption>{{ image.title }}{% if image.note %} — {{ image.note }}{% endif %}</figcaption></figure>
{% endfor %}
{% endif %}
</section>
{% endfor %}
</body>
</html>
"""
