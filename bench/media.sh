# Sources and measures shared by bench/rate-control.sh and bench/codec-rd.sh
# (sourced after lib.sh; they use SECS, the source's length in seconds, and
# TMP, which holds tsvideo, built from bench/cmd/tsvideo).
#
# Generated 1080p30 sources, made near losslessly (x264 CRF 10):
#   slide:    a still slide (text bars, a grid) with a moving cursor;
#   talk:     testsrc2, sharp synthetic graphics and text moving over
#             gradients (a moderately moving picture);
#   grain:    testsrc2 under strong temporal noise;
#   head:     a talking head: a textured head and shoulders swaying and
#             tilting (sub-pixel motion), a mouth opening and closing, before
#             a defocused room, under light sensor noise;
#   pan:      high motion with film grain: a fast pan over a textured
#             landscape (noise of three scales) under temporal grain.
# And any file: file:PATH (its first SECS seconds, re-encoded as above; a
# silent track is added when it has no audio).

# make_clip NAME FILE: the source NAME, SECS long, as FILE (MP4, with audio).
# Sets FPS to its frame rate.
make_clip() {
	local graph
	FPS=30
	case $1 in
	slide) graph="color=c=0xf4f4f4:s=1920x1080:r=30,drawgrid=w=160:h=90:t=1:c=0xd0d0d0,drawbox=x=160:y=120:w=1400:h=70:c=0x202060:t=fill,drawbox=x=160:y=300:w=1100:h=24:c=0x303030:t=fill,drawbox=x=160:y=360:w=1250:h=24:c=0x303030:t=fill,drawbox=x=160:y=420:w=900:h=24:c=0x303030:t=fill,drawbox=x=1300:y=600:w=420:h=300:c=0x3070c0:t=fill[bg];color=c=black:s=20x28:r=30[cur];[bg][cur]overlay=x='200+mod(t*160\,1400)':y='500+100*sin(t)'" ;;
	talk) graph="testsrc2=s=1920x1080:r=30" ;;
	grain) graph="testsrc2=s=1920x1080:r=30,noise=alls=40:allf=t+u" ;;
	head) # still textures are made once (trim, loop) and then only move
		graph="color=c=0x6b5d50:s=1920x1080:r=30,noise=alls=40:allf=p,gblur=sigma=6"
		graph+=",drawbox=x=80:y=120:w=420:h=700:c=0x3a2a1c:t=fill,drawbox=x=100:y=160:w=380:h=8:c=0x221810:t=fill"
		graph+=",drawbox=x=110:y=180:w=40:h=160:c=0xa03028:t=fill,drawbox=x=160:y=200:w=30:h=140:c=0x2850a0:t=fill"
		graph+=",drawbox=x=200:y=190:w=50:h=150:c=0xd0c060:t=fill,drawbox=x=270:y=170:w=35:h=170:c=0x408040:t=fill"
		graph+=",drawbox=x=100:y=420:w=380:h=8:c=0x221810:t=fill,drawbox=x=120:y=450:w=60:h=150:c=0x805020:t=fill"
		graph+=",drawbox=x=190:y=440:w=45:h=160:c=0x604080:t=fill,drawbox=x=1500:y=200:w=300:h=380:c=0xc8d0d8:t=fill"
		graph+=",drawbox=x=1520:y=220:w=260:h=340:c=0x7090b0:t=fill,gblur=sigma=3,noise=alls=10:allf=p"
		graph+=",trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB[bg];"
		graph+="color=c=0x2a3a5a:s=900x520:r=30,noise=alls=30:allf=p,gblur=sigma=1,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB[body];"
		graph+="color=c=0xc89878:s=360x460:r=30,drawbox=x=0:y=0:w=360:h=120:c=0x302018:t=fill"
		graph+=",drawbox=x=90:y=190:w=50:h=22:c=0x403028:t=fill,drawbox=x=220:y=190:w=50:h=22:c=0x403028:t=fill"
		graph+=",noise=alls=16:allf=p,gblur=sigma=1.2,drawbox=x=140:y=340:w=80:h=10:c=0x803838:t=fill"
		graph+=",drawbox=x=140:y=335:w=80:h=26:c=0x602020:t=fill:enable='lt(mod(t\,0.5)\,0.25)',format=yuva420p"
		graph+=",geq=lum='lum(X\,Y)':cb='cb(X\,Y)':cr='cr(X\,Y)':a='255*lt(hypot((X-180)/180\,(Y-230)/230)\,1)'"
		graph+=",rotate=a='0.04*sin(t*1.1)':c=none[head];"
		graph+="[bg][body]overlay=x='510+14*sin(t*0.9)':y='700+5*sin(t*1.7)'[b1];"
		graph+="[b1][head]overlay=x='780+22*sin(t*0.9+0.3)':y='260+9*sin(t*1.7)',noise=alls=2:allf=t" ;;
	pan) # a 4K still landscape (noise at three scales), panned fast
		graph="color=c=0x808080:s=64x36:r=30,noise=alls=100:allf=p,scale=3840:2160:flags=bicubic[l1];"
		graph+="color=c=0x808080:s=480x270:r=30,noise=alls=90:allf=p,scale=3840:2160:flags=bicubic[l2];"
		graph+="color=c=0x808080:s=3840x2160:r=30,noise=alls=60:allf=p,gblur=sigma=0.7[l3];"
		graph+="[l1][l2]blend=all_mode=average[m];[m][l3]blend=all_mode=average,eq=contrast=2.2:saturation=1.2"
		graph+=",drawbox=x=400:y=300:w=500:h=1400:c=0x404858@0.6:t=fill,drawbox=x=1400:y=200:w=300:h=1700:c=0x887766@0.7:t=fill"
		graph+=",drawbox=x=2400:y=500:w=700:h=1200:c=0x504030@0.6:t=fill"
		graph+=",trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB"
		graph+=",crop=w=1920:h=1080:x='960+900*sin(t*1.3)':y='540+480*sin(t*0.9)',noise=alls=14:allf=t" ;;
	file:*)
		local in=${1#file:} audio=(-map 0:a:0)
		[[ -r $in ]] || die "cannot read $in"
		FPS=$(ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate -of csv=p=0 "$in")
		[[ $FPS =~ ^[0-9]+/[0-9]+$ ]] || die "no frame rate in $in"
		if [[ -z $(ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 "$in") ]]; then
			audio=(-f lavfi -i "anullsrc=r=48000" -map 1:a)
		fi
		ffmpeg -hide_banner -nostdin -v error -y -i "$in" "${audio[@]}" -t "$SECS" -map 0:v:0 \
			-c:v libx264 -preset ultrafast -crf 10 -pix_fmt yuv420p -c:a aac -b:a 128k "$2" || die "could not cut $in"
		return ;;
	*) die "no source $1" ;;
	esac
	ffmpeg -hide_banner -nostdin -v error -y -f lavfi -i "$graph" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
		-t "$SECS" -map 0:v -map 1:a -c:v libx264 -preset ultrafast -crf 10 -pix_fmt yuv420p -g 60 \
		-c:a aac -b:a 128k "$2" || die "could not make the $1 source"
}

# quality REF RUNG W H: "ssim psnr" of the rung's video against the source
# scaled to W x H, frame by frame from each one's first.
quality() {
	local out in=(-i "$2")
	if [[ $2 == *-av1.ts ]]; then
		# FFmpeg 5.1 cannot read AV1 back from MPEG-TS: its OBUs, at the
		# source's frame rate.
		"$TMP/tsvideo" "$2" "${2%.ts}.obu" || die "could not take the AV1 out of $2"
		in=(-f obu -framerate "$FPS" -i "${2%.ts}.obu")
	fi
	out=$(ffmpeg -hide_banner -nostdin -v info "${in[@]}" -i "$1" -lavfi \
		"[1:v]setpts=PTS-STARTPTS,scale=$3:$4:flags=bicubic,format=yuv420p[r];[0:v]setpts=PTS-STARTPTS,format=yuv420p[d];[d]split[d1][d2];[r]split[r1][r2];[d1][r1]ssim;[d2][r2]psnr" \
		-f null - 2>&1) || die "quality of $2: $out"
	local ssim psnr
	ssim=$(sed -n 's/.*SSIM Y:\([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
	psnr=$(sed -n 's/.*PSNR y:\([0-9.inf]*\).*/\1/p' <<<"$out" | tail -1)
	echo "$ssim $psnr"
}

video_kbps() { # file: the video stream's bytes as kbit/s of the source's length
	if [[ $1 == *-av1.ts ]]; then # ffprobe cannot read it (see quality): its OBUs' size
		stat -c %s "${1%.ts}.obu" | awk -v s="$SECS" '{ printf "%.0f", $1 * 8 / s / 1000 }'
		return
	fi
	ffprobe -v error -select_streams v -show_entries packet=size -of csv=p=0 "$1" |
		awk -v s="$SECS" '{ b += $1 } END { printf "%.0f", b * 8 / s / 1000 }'
}
