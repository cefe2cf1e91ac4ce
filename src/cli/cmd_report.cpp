// `edgereason report --db results.db -o report.html`: one self-contained HTML file with SVG charts.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/study_common.h"
#include "report/html_report.h"
#include "study/store.h"

namespace er::cli {
namespace {

struct ReportCliOptions {
  std::string db = "results.db";
  std::string out = "report.html";
  std::string title = "edgereason study report";
};

}  // namespace

Status write_html_report(const std::string& db, const std::string& out, const std::string& title) {
  ER_ASSIGN_OR_RETURN(auto store, study::Store::open(db, study::Store::Mode::kReadOnly));
  ER_ASSIGN_OR_RETURN(report::HtmlReportInput in, report::load_report_input(*store));
  in.title = title;
  const std::string html = report::render_html_report(in);
  const std::string tmp = out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::invalid("-o: cannot write '" + out + "'");
    f << html;
    if (!f.flush()) return Status::io_error("writing '" + tmp + "' failed");
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) return Status::io_error("cannot rename '" + tmp + "' to '" + out + "'");
  return Status::ok();
}

Command add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportCliOptions>();
  CLI::App* sub = app.add_subcommand("report", "Write a self-contained HTML report (SVG charts) of a results database");
  sub->add_option("--db", o->db, "Results database")->capture_default_str();
  sub->add_option("-o,--output", o->out, "HTML file to write")->capture_default_str();
  sub->add_option("--title", o->title, "Report title")->capture_default_str();
  return {sub, [o]() -> Status {
            ER_RETURN_IF_ERROR(write_html_report(o->db, o->out, o->title));
            std::printf("wrote %s\n", o->out.c_str());
            return Status::ok();
          }};
}

}  // namespace er::cli
