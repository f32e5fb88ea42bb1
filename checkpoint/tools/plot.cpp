#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace nnx_ckpt {

namespace {
using nnx::checkpoint::LogEntry;

constexpr double kWidth = 900, kPanelHeight = 240, kLeft = 80, kRight = 20, kTop = 40, kGap = 50;
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

enum class Group { loss, accuracy, other };
Group group_of(const std::string& name) {
  if (name.find("loss") != std::string::npos) return Group::loss;
  if (name.find("acc") != std::string::npos) return Group::accuracy;
  return Group::other;
}
const char* group_title(Group g) { return g == Group::loss ? "loss" : g == Group::accuracy ? "accuracy" : "other metrics"; }

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (step, value), finite only
};

struct Panel {
  Group group;
  std::vector<Series> series;
};

std::vector<Panel> panels_of(const std::vector<LogEntry>& log) {
  std::map<std::string, Series> by_name;
  for (const auto& e : log)
    for (const auto& [name, v] : e.metrics)
      if (std::isfinite(v)) {
        auto& s = by_name[name];
        s.name = name;
        s.points.emplace_back(static_cast<double>(e.step), v);
      }
  std::vector<Panel> panels;
  for (Group g : {Group::loss, Group::accuracy, Group::other}) {
    Panel p{g, {}};
    for (auto& [name, s] : by_name)
      if (group_of(name) == g) p.series.push_back(s);
    if (!p.series.empty()) panels.push_back(std::move(p));
  }
  return panels;
}
}  // namespace

std::string plot_svg(const std::vector<LogEntry>& log, std::optional<std::int64_t> best_step, const std::string& title) {
  const std::vector<Panel> panels = panels_of(log);
  double x_min = 0, x_max = 1;
  bool any = false;
  for (const auto& e : log) {
    const double x = static_cast<double>(e.step);
    x_min = any ? std::min(x_min, x) : x;
    x_max = any ? std::max(x_max, x) : x;
    any = true;
  }
  if (x_max <= x_min) x_max = x_min + 1;
  const double plot_w = kWidth - kLeft - kRight;
  const double height = kTop + static_cast<double>(std::max<std::size_t>(panels.size(), 1)) * (kPanelHeight + kGap);
  const auto sx = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * plot_w; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
                    "<text x=\"" + num(kLeft) + "\" y=\"22\" font-size=\"15\">" + escape(title) + "</text>\n";
  if (panels.empty()) svg += "<text x=\"" + num(kLeft) + "\" y=\"80\">no metrics logged yet</text>\n";
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const Panel& panel = panels[p];
    const double top = kTop + static_cast<double>(p) * (kPanelHeight + kGap) + 20, bottom = top + kPanelHeight - 40;
    double y_min = 0, y_max = 0;
    bool first = true;
    for (const auto& s : panel.series)
      for (const auto& [x, y] : s.points) {
        y_min = first ? y : std::min(y_min, y);
        y_max = first ? y : std::max(y_max, y);
        first = false;
      }
    if (y_max <= y_min) y_max = y_min + 1;
    const auto sy = [&](double y) { return bottom - (y - y_min) / (y_max - y_min) * (bottom - top); };
    svg += "<g class=\"panel\">\n<text x=\"" + num(kLeft) + "\" y=\"" + num(top - 6) + "\" font-weight=\"bold\">" +
           group_title(panel.group) + "</text>\n";
    svg += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(top) + "\" width=\"" + num(plot_w) + "\" height=\"" + num(bottom - top) +
           "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (int t = 0; t <= 4; ++t) {  // axis labels
      const double fy = y_min + (y_max - y_min) * t / 4, fx = x_min + (x_max - x_min) * t / 4;
      svg += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(sy(fy) + 4) + "\" text-anchor=\"end\">" + num(fy) + "</text>\n";
      svg += "<text x=\"" + num(sx(fx)) + "\" y=\"" + num(bottom + 16) + "\" text-anchor=\"middle\">" + num(std::round(fx)) + "</text>\n";
    }
    for (const auto& e : log) {  // events: saves, resumes
      const std::string x = num(sx(static_cast<double>(e.step)));
      if (e.event == "save")
        svg += "<path class=\"save\" d=\"M" + x + " " + num(bottom) + " l-4 8 h8 z\" fill=\"#555\"><title>saved step " +
               std::to_string(e.step) + "</title></path>\n";
      else if (e.event == "resume")
        svg += "<line class=\"resume\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + num(top) + "\" y2=\"" + num(bottom) +
               "\" stroke=\"#d62728\" stroke-dasharray=\"5,4\"><title>resumed at step " + std::to_string(e.step) + "</title></line>\n";
    }
    if (best_step) {
      const std::string x = num(sx(static_cast<double>(*best_step)));
      svg += "<line class=\"best\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + num(top) + "\" y2=\"" + num(bottom) +
             "\" stroke=\"#2ca02c\" stroke-width=\"2\"><title>best step " + std::to_string(*best_step) + "</title></line>\n";
    }
    for (std::size_t i = 0; i < panel.series.size(); ++i) {
      const Series& s = panel.series[i];
      const char* color = kColors[i % std::size(kColors)];
      svg += "<polyline class=\"series\" fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"1.5\" points=\"";
      for (const auto& [x, y] : s.points) svg += num(sx(x)) + "," + num(sy(y)) + " ";
      svg += "\"><title>" + escape(s.name) + "</title></polyline>\n";
      svg += "<text x=\"" + num(kWidth - kRight - 6) + "\" y=\"" + num(top + 16 + 14 * static_cast<double>(i)) +
             "\" text-anchor=\"end\" fill=\"" + color + "\">" + escape(s.name) + "</text>\n";
    }
    svg += "</g>\n";
  }
  const double legend_y = height - 12;
  svg += "<text x=\"" + num(kLeft) + "\" y=\"" + num(legend_y) + "\" fill=\"#555\">▲ saved step</text>\n";
  svg += "<text x=\"" + num(kLeft + 110) + "\" y=\"" + num(legend_y) + "\" fill=\"#d62728\">- - resumed</text>\n";
  svg += "<text x=\"" + num(kLeft + 210) + "\" y=\"" + num(legend_y) + "\" fill=\"#2ca02c\">| best step</text>\n";
  return svg + "</svg>\n";
}

}  // namespace nnx_ckpt
